// The REST side of signing in (app/server/auth-routes.ts): the session itself is the HttpOnly cookie.
export interface Me {
  name: string;
  role: string;
  telescopes: string[] | null;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json?.error?.message ?? `${res.status} ${res.statusText}`);
  return json as T;
}

export const session = {
  status: () => call<{ setup_required: boolean }>("GET", "/v1/auth/status"),
  me: () => call<Me>("GET", "/v1/auth/me"),
  setup: (setup_code: string, name: string, password: string) => call<Me>("POST", "/v1/auth/setup", { setup_code, name, password }),
  login: (name: string, password: string) => call<Me>("POST", "/v1/auth/login", { name, password }),
  logout: () => call<void>("POST", "/v1/auth/logout", {}),
  telescope: async () => ((await call<{ telescope_uid?: string }>("GET", "/healthz")).telescope_uid ?? null),
};
