/**
 * The script-tag build: `graphrec.createTracker(...)`, `graphrec.createClient(...)`, and, when the
 * tag carries data-endpoint, a tracker started from its attributes as `graphrec.tracker`:
 *   <script src="tracker.iife.js" data-endpoint="https://api.example.com" data-key="pk_..."
 *           data-require-consent async></script>
 */
import { createTracker } from "./tracker";
import type { Tracker } from "./tracker";

export { createTracker, Tracker } from "./tracker";
export { createClient, GraphrecError } from "./client";
export { idProblem, normaliseId } from "./ids";
export { version } from "./index";

export let tracker: Tracker | undefined;

const script = typeof document !== "undefined" ? (document.currentScript as HTMLScriptElement | null) : null;
const endpoint = script && script.getAttribute("data-endpoint");
if (script && endpoint) {
  tracker = createTracker({
    endpoint,
    key: script.getAttribute("data-key") || undefined,
    requireConsent: script.hasAttribute("data-require-consent"),
  });
}
