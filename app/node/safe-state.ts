import type { Telescope } from "./telescope";

/** Puts the telescope in a safe state at once, whatever else is going on (a fault nobody handled): every axis gets
 * its instant stop written before this returns (no deceleration, no waiting on the event loop), tracking ends, the
 * camera's exposure is aborted (shutter closed) and the other devices stop. Never throws; resolves once the slower
 * devices have confirmed. */
export function safeState(t: Telescope, reason: string): Promise<void> {
  const attempts: Promise<unknown>[] = [];
  const attempt = (stop: () => Promise<unknown> | void) => {
    try {
      const p = stop();
      if (p) attempts.push(p);
    } catch (err) {
      attempts.push(Promise.reject(err));
    }
  };
  attempt(() => t.mount.stopTracking());
  for (const axis of t.mount.axes) attempt(() => axis.halt(reason));
  const d = t.devices;
  attempt(() => d.camera.abort(reason));
  attempt(() => d.focuser.stop(reason));
  attempt(() => d.rotator.stop(reason));
  attempt(() => d.filterWheel.stop(reason));
  return Promise.allSettled(attempts).then(() => {});
}
