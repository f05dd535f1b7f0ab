import { useEffect, useState } from "preact/hooks";
import { html, type Snap } from "./html";
import { rest } from "./session";

/** The automated task queue (REST /v1/tasks): what runs when nobody holds the lease. */
export function TasksPanel({ canWrite, filters, refreshKey }: { canWrite: boolean; filters: { id: string }[]; refreshKey: unknown }) {
  const [tasks, setTasks] = useState<Snap[]>([]);
  const [error, setError] = useState("");
  const load = () => rest("GET", "/v1/tasks").then((r) => setTasks(r.tasks), (e) => setError(e.message));
  useEffect(() => void load().catch(console.error), [refreshKey]);
  const add = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    try {
      await rest("POST", "/v1/tasks", {
        name: String(f.get("name") || f.get("target")),
        target: { type: "named", name: String(f.get("target")) },
        exposures: [{ filter_id: String(f.get("filter")), duration_s: Number(f.get("duration")), count: Number(f.get("count")) }],
      });
      setError("");
      (e.target as HTMLFormElement).reset();
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section>
    <h2>Task queue</h2>
    <ol data-test="tasks">${tasks.map((t) => html`<li>
      <b>${t.spec?.name ?? t.name ?? t.task_id}</b> <span class="badge">${t.state}</span> <span class="muted">${t.progress?.exposures_done ?? 0} frames ${t.progress?.message ?? ""}</span>
      ${canWrite && html`<button onClick=${async () => (await rest("DELETE", `/v1/tasks/${t.task_id}`).catch((e) => setError(e.message)), load())}>Remove</button>`}
    </li>`)}</ol>
    ${tasks.length === 0 && html`<p class="muted">No tasks queued.</p>`}
    ${canWrite && html`<form class="row" onSubmit=${add}>
      <input name="target" placeholder="target, e.g. M42" required aria-label="task target" />
      <select name="filter" aria-label="task filter">${filters.map((f) => html`<option value=${f.id}>${f.id}</option>`)}</select>
      <input name="duration" type="number" min="0.001" step="any" value="10" aria-label="task seconds" />
      <input name="count" type="number" min="1" value="3" aria-label="task frames" />
      <button type="submit">Add task</button>
    </form>`}
    <p class="error">${error}</p>
  </section>`;
}

const ROLES = ["viewer", "operator", "owner", "admin"];

/** Accounts (admins only): who may sign in, with which role. */
export function UsersPanel() {
  const [users, setUsers] = useState<Snap[]>([]);
  const [error, setError] = useState("");
  const load = () => rest("GET", "/v1/users").then((r) => setUsers(r.users), (e) => setError(e.message));
  useEffect(() => void load().catch(console.error), []);
  const add = async (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const f = new FormData(form);
    try {
      await rest("POST", "/v1/users", { name: String(f.get("name")), role: String(f.get("role")), password: String(f.get("password")) });
      form.reset();
      setError("");
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section>
    <h2>Accounts</h2>
    <ul data-test="users">${users.map((u) => html`<li>${u.name}
      <select aria-label=${`role of ${u.name}`} onChange=${async (e: Event) => (await rest("PATCH", `/v1/users/${u.name}`, { role: (e.target as HTMLSelectElement).value }).catch((err) => setError(err.message)), load())}>
        ${ROLES.map((r) => html`<option value=${r} selected=${u.role === r}>${r}</option>`)}
      </select>
      <button onClick=${async () => (await rest("DELETE", `/v1/users/${u.name}`).catch((e) => setError(e.message)), load())}>Remove</button></li>`)}</ul>
    <form class="row" onSubmit=${add}>
      <input name="name" placeholder="name" required aria-label="new account name" />
      <select name="role" aria-label="new account role">${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select>
      <input name="password" type="password" placeholder="password (8+)" minlength="8" required aria-label="new account password" />
      <button type="submit">Add account</button>
    </form>
    <p class="error">${error}</p>
  </section>`;
}
