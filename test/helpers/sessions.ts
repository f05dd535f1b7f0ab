/** The web UI's side of sign-in against a test server (`server` is read at each call: servers start in beforeAll):
 * POSTs from the served Origin, and the headers that present a session cookie. */
export function sessionRequests(server: () => { http: string }) {
  return {
    post: (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${server().http}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: server().http, ...headers },
        body: JSON.stringify(body),
      }),
    as: (cookie: string) => ({ cookie: `skynet_session=${cookie}`, origin: server().http }),
  };
}

/** The session cookie an answer sets ("" when it sets none). */
export const cookieOf = (res: Response) => /skynet_session=([^;]*)/.exec(res.headers.get("set-cookie") ?? "")?.[1] ?? "";
