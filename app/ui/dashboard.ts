import { useEffect, useState } from "preact/hooks";
import { SkynodeClient, type Frame } from "../client";
import { TasksPanel, UsersPanel } from "./admin-panels";
import { useCommands } from "./control";
import { html, type Snap } from "./html";
import { ImageViewer } from "./image-viewer";
import { CameraPanel, FocusPanel, PointingPanel } from "./panels";
import { session, type Me } from "./session";

/** The telescope, live: every stream of it subscribed through the typed client (which resubscribes after a drop,
 * and the retained snapshots catch the page up), and the manual controls, enabled only with the authority. */
export function Dashboard({ me, telescope, signedOut }: { me: Me; telescope: string; signedOut: () => void }) {
  const [client, setClient] = useState<SkynodeClient | null>(null);
  const [link, setLink] = useState("connecting");
  const [tel, setTel] = useState<Snap>({});
  const [devices, setDevices] = useState<Record<string, Snap>>({});
  const [status, setStatus] = useState<Snap>({});
  const [logs, setLogs] = useState<Snap[]>([]);
  const [imageId, setImageId] = useState("latest");
  const [night, setNight] = useState(localStorage.getItem("night") === "1");
  const [now, setNow] = useState(Date.now());
  const { busy, message, run, cancel } = useCommands(client, telescope);

  useEffect(() => {
    document.body.classList.toggle("night", night);
    localStorage.setItem("night", night ? "1" : "0");
  }, [night]);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    let c: SkynodeClient | null = null;
    let closed = false;
    (async () => {
      c = await SkynodeClient.connect({});
      if (closed) return c.close();
      c.onConnection((s) => {
        setLink(s);
        // What was shown is no longer live: blank it until the restored subscriptions deliver the current state.
        if (s === "reconnecting") {
          setTel({});
          setDevices({});
          setStatus({});
          // A session ended by an admin (or a password change elsewhere) is signed out, not retried forever; a
          // server that is merely unreachable is waited for.
          void fetch("/v1/auth/me").then((r) => r.status === 401 && (c?.close(), signedOut()), () => {});
        }
      });
      await c.subscribe({ filter: { telescope_uid: telescope } }, (e: Frame) => {
        if (e.kind === "event_telescope_snapshot") setTel(e.snapshot as Snap);
        else if (e.kind === "event_device_snapshot") setDevices((d) => ({ ...d, [String(e.device_uid)]: e.snapshot as Snap }));
        else if (e.kind === "event_constraint_status_snapshot") setStatus(e.snapshot as Snap);
        else if (e.kind === "event_telescope_log") setLogs((l) => [...l.slice(-299), e.entry as Snap]);
      });
      setLink("open");
      setClient(c);
    })().catch((err) => setLink(`failed: ${(err as Error).message}`));
    return () => {
      closed = true;
      c?.close();
    };
  }, [telescope]);

  const lease = tel.lease as { lease_id: string; holder: string; purpose?: string | null; expires_at: string } | null | undefined;
  const mine = lease?.holder === me.name;
  const owner = me.role === "owner" || me.role === "admin";
  const can = me.role !== "viewer" && (mine || owner);
  const why = me.role === "viewer" ? "viewers cannot command" : lease && !mine ? `the lease is held by ${lease.holder}` : "acquire the lease first";
  const props = { run, can, why, busy: busy !== null };
  const filters = (devices.filter_wheel?.filters as { id: string }[] | undefined) ?? [];
  const leaseLeft = lease ? Math.max(0, Math.round((Date.parse(lease.expires_at) - now) / 1000)) : 0;
  const unmet = ((status.constraints as Snap[]) ?? []).filter((c) => !c.satisfied && c.scope !== "target");

  return html`<div>
    <header>
      <h1>skynode · ${telescope}</h1>
      <span class=${`badge ${link === "open" ? "ok" : "warn"}`} data-test="link">${link === "open" ? "live" : link}</span>
      ${upstreamBadge(tel.upstream as Snap | null | undefined)}
      <span class=${`badge ${tel.safe ? "ok" : "bad"}`} data-test="safe">${tel.safe === undefined ? "…" : tel.safe ? "safe" : `unsafe: ${unmet.map((c) => c.name).join(", ")}`}</span>
      <span class="muted">${me.name} (${me.role})</span>
      <button onClick=${() => setNight(!night)}>${night ? "Normal" : "Night"}</button>
      <button onClick=${async () => (await session.logout(), client?.close(), signedOut())}>Sign out</button>
    </header>
    <main>
      <div class="banner" data-test="lease">
        ${lease
          ? html`Manual control: <b>${lease.holder}</b>${lease.purpose ? ` (${lease.purpose})` : ""} · ${Math.floor(leaseLeft / 60)}:${String(leaseLeft % 60).padStart(2, "0")} left`
          : html`No manual-control lease: ${tel.current_task ? `automation running ${tel.current_task.name ?? tel.current_task.task_id}` : "the telescope is free"}`}
        <span class="row">
          ${!lease && me.role !== "viewer" && html`<button class="primary" disabled=${busy !== null} onClick=${() => run("acquire lease", { command_type: "manual_control_lease.acquire", duration_s: 1800, purpose: "web UI" })}>Acquire lease</button>`}
          ${lease && mine && html`<button onClick=${() => run("renew lease", { command_type: "manual_control_lease.renew", lease_id: lease.lease_id, duration_s: 1800 })}>Renew</button>
            <button onClick=${() => run("release lease", { command_type: "manual_control_lease.release", lease_id: lease.lease_id })}>Release</button>`}
          ${busy && html`<span>${busy.label}…</span><button data-test="cancel" onClick=${cancel}>Cancel</button>`}
          <span data-test="message">${message}</span>
        </span>
      </div>
      <${PointingPanel} ...${props} tel=${tel} mount=${devices.mount ?? {}} />
      <${CameraPanel} ...${props} camera=${devices.camera ?? {}} filters=${filters} now=${now} onImage=${setImageId} />
      <${ImageViewer} client=${client} telescope=${telescope} imageId=${imageId} latestId=${devices.camera?.last_image_id ?? null} choose=${setImageId} />
      <${FocusPanel} ...${props} devices=${devices} filters=${filters} logs=${logs} />
      <section>
        <h2>Conditions</h2>
        <ul data-test="constraints">${((status.constraints as Snap[]) ?? []).map((c) => html`<li class=${c.satisfied ? "ok" : "bad"}>${c.satisfied ? "✔" : "✘"} ${c.name}: ${String(c.value)} <span class="muted">(${c.limit})</span></li>`)}</ul>
        <dl>${Object.entries(devices).map(([uid, d]) => html`<dt>${uid}</dt><dd class=${d.connected === false ? "bad" : ""}>${d.connected === false ? "disconnected" : (d.state ?? "—")}</dd>`)}</dl>
      </section>
      <${TasksPanel} canWrite=${me.role !== "viewer"} filters=${filters} refreshKey=${tel.current_task?.task_id ?? null} />
      <section>
        <h2>Log</h2>
        <pre class="log" data-test="log">${logs.slice(-60).reverse().map((l) => `${String(l.ts).slice(11, 19)} ${l.level} ${l.msg}\n`)}</pre>
      </section>
      ${me.role === "admin" && html`<${UsersPanel} />`}
    </main>
  </div>`;
}

/** The appliance's link to its upstream hub, when it has one: a user on the LAN sees whether the hub sees the telescope. */
function upstreamBadge(up: Snap | null | undefined) {
  if (!up) return null;
  const state = String(up.state);
  const title = `${up.url}${up.last_error ? ` · last error: ${up.last_error}` : ""}${up.queued_logs ? ` · ${up.queued_logs} log lines queued` : ""}`;
  return html`<span class=${`badge ${state === "connected" ? "ok" : "warn"}`} data-test="upstream" title=${title}>hub: ${state === "connected" ? "linked" : state}</span>`;
}
