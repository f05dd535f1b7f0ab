// The REST side of signing in (app/server/auth-routes.ts): the session itself is the HttpOnly cookie.
export interface Me {
  name: string;
  role: string;
  telescopes: string[] | null;
}

/** A REST call of this server: JSON in and out; an error answer rejects with its message. */
export async function rest<T = any>(method: string, path: string, body?: unknown): Promise<T> {
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
  status: () => rest<{ setup_required: boolean }>("GET", "/v1/auth/status"),
  me: () => rest<Me>("GET", "/v1/auth/me"),
  setup: (setup_code: string, name: string, password: string) => rest<Me>("POST", "/v1/auth/setup", { setup_code, name, password }),
  login: (name: string, password: string) => rest<Me>("POST", "/v1/auth/login", { name, password }),
  logout: () => rest<void>("POST", "/v1/auth/logout", {}),
  telescope: async () => ((await rest<{ telescope_uid?: string }>("GET", "/healthz")).telescope_uid ?? null),
};
