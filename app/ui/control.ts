import { useState } from "preact/hooks";
import type { SkynodeClient } from "../client";
import type { CommandResult } from "../protocol";

/** Runs commands for the panels: one at a time per page, with its id kept so that it can be cancelled, and the
 * outcome as a message. */
export function useCommands(client: SkynodeClient | null, telescope: string) {
  const [busy, setBusy] = useState<{ label: string; id: string } | null>(null);
  const [message, setMessage] = useState("");
  const run = async (label: string, command: Record<string, unknown>): Promise<CommandResult | null> => {
    if (!client) return null;
    const id = `ui-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    setBusy({ label, id });
    setMessage("");
    try {
      const r = await client.command(telescope, command as never, { commandId: id });
      setMessage(r.status === "ok" ? `${label}: done` : `${label}: ${r.status}${r.error ? ` (${r.error.message})` : ""}`);
      return r;
    } catch (err) {
      setMessage(`${label}: ${(err as Error).message}`);
      return null;
    } finally {
      setBusy(null);
    }
  };
  const cancel = async () => {
    if (busy && client) await client.cancel(busy.id).catch((err) => setMessage(`cancel: ${(err as Error).message}`));
  };
  return { busy, message, run, cancel };
}
