/**
 * The script-tag build: `graphrec.createTracker(...)`, `graphrec.createClient(...)`, and, when the
 * tag carries data-endpoint, a tracker started from its attributes as `graphrec.tracker`:
 *   <script src="tracker.iife.js" data-endpoint="https://api.example.com" data-key="pk_..."
 *           data-require-consent async></script>
 */
import { createClient, GraphrecError } from "./client.js";
import { idProblem, normaliseId } from "./ids.js";
import { version } from "./index.js";
import { createTracker, Tracker } from "./tracker.js";

const script = typeof document !== "undefined" ? (document.currentScript as HTMLScriptElement | null) : null;
const endpoint = script && script.getAttribute("data-endpoint");

(globalThis as unknown as { graphrec: object }).graphrec = {
  createTracker, createClient, Tracker, GraphrecError, idProblem, normaliseId, version,
  tracker: script && endpoint
    ? createTracker({ endpoint, key: script.getAttribute("data-key") || undefined, requireConsent: script.hasAttribute("data-require-consent") })
    : undefined,
};
