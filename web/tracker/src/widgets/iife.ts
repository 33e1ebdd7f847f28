/**
 * The script-tag build of the widgets, loaded after tracker.iife.js (both `defer`, or neither `async`):
 * adds `graphrec.defineWidgets`, and when the tracker's tag started a tracker (data-endpoint), defines
 * the widgets for it at once as `graphrec.widgets`:
 *   <script src="tracker.iife.js" data-endpoint="https://api.example.com" data-key="pk_..." data-require-consent defer></script>
 *   <script src="widgets.iife.js" defer></script>
 *   <graphrec-recommendations k="8"></graphrec-recommendations>
 */
import { defineWidgets } from "./index.js";
import type { Tracker } from "../tracker.js";

const g = (globalThis as unknown as { graphrec?: { tracker?: Tracker; defineWidgets?: unknown; widgets?: unknown } }).graphrec;
if (!g) {
  console.error("graphrec widgets: load tracker.iife.js before widgets.iife.js (the global `graphrec` is missing)");
} else {
  g.defineWidgets = defineWidgets;
  if (g.tracker) g.widgets = defineWidgets({ tracker: g.tracker });
}
