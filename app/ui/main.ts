// The web UI (served at /): sign-in and first-boot setup, then the telescope's live dashboard and manual control,
// over the public API only (app/client on /v1/ws/*, REST for the session).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Dashboard } from "./dashboard";
import { html } from "./html";
import { session, type Me } from "./session";

function App() {
  const [state, setState] = useState<{ view: "loading" | "setup" | "login" | "dash"; me?: Me; telescope?: string | null; error?: string }>({ view: "loading" });
  const load = async () => {
    try {
      const telescope = await session.telescope();
      if ((await session.status()).setup_required) return setState({ view: "setup", telescope });
      const me = await session.me().catch(() => null);
      setState(me ? { view: "dash", me, telescope } : { view: "login", telescope });
    } catch (err) {
      setState({ view: "login", error: (err as Error).message });
    }
  };
  useEffect(() => void load().catch((err: Error) => setState({ view: "login", error: err.message })), []);
  if (state.view === "loading") return html`<p class="boot">Loading…</p>`;
  if (state.view === "setup") return html`<${SignIn} setup=${true} done=${load} />`;
  if (state.view === "login") return html`<${SignIn} setup=${false} done=${load} />`;
  return html`<${Dashboard} me=${state.me!} telescope=${state.telescope ?? "sim-1"} signedOut=${load} />`;
}

function SignIn({ setup, done }: { setup: boolean; done: () => void }) {
  const [error, setError] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    try {
      if (setup) await session.setup(String(f.get("code")), String(f.get("name")), String(f.get("password")));
      else await session.login(String(f.get("name")), String(f.get("password")));
      done();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="card">
    <h2>${setup ? "Set up this telescope" : "Sign in"}</h2>
    ${setup && html`<p class="why">No account exists yet. Enter the setup code the appliance printed when it started (also in its data dir, <code>setup-code</code>) and choose the admin's name and password.</p>`}
    <form onSubmit=${submit}>
      ${setup && html`<label>Setup code <input name="code" autocomplete="off" required /></label>`}
      <label>Name <input name="name" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete=${setup ? "new-password" : "current-password"} required minlength=${setup ? 8 : 1} /></label>
      <p class="error" role="alert">${error}</p>
      <button class="primary" type="submit">${setup ? "Create admin and sign in" : "Sign in"}</button>
    </form>
  </section>`;
}

render(html`<${App} />`, document.getElementById("app")!);
