/**
 * Who a token belongs to (`gpux whoami`, and `gpux login` checking a token before it is saved): name, kind of
 * account, organisations and the token's role, never the token itself.
 *
 * @module
 */
import { whoAmI } from "@huggingface/hub";
import { AuthenticationError, NetworkError } from "../errors.ts";
import { type ResolvedToken, resolveToken } from "./auth.ts";
import { checkTokenShape, dropUndefined, type HubClient } from "./hub_client.ts";

/** Who a token belongs to (`gpux whoami`). Never contains the token. */
export interface WhoAmIResult {
  /** User, organisation or app name. */
  name: string;
  /** Kind of account. */
  type: "user" | "org" | "app";
  /** Display name. */
  fullname?: string;
  /** E-mail address, when the token may read it. */
  email?: string;
  /** Organisations the user belongs to. */
  orgs: string[];
  /** The token's display name and role, when the Hub says. */
  token?: { name?: string; role?: string };
  /** Where the token came from (`explicit`, `HF_TOKEN`, `HF_TOKEN_PATH`, `HF_HOME`, `default`). */
  tokenSource: ResolvedToken["source"];
}

/**
 * Who the token belongs to. With `token`, checks that token instead of the configured one
 * (`gpux login` validates before saving).
 *
 * @throws {AuthenticationError} when there is no token or the Hub rejects it.
 */
export async function whoami(
  client: HubClient,
  options: { token?: string; signal?: AbortSignal } = {},
): Promise<WhoAmIResult> {
  const found = options.token !== undefined
    ? await resolveToken({ token: options.token, env: () => undefined })
    : await client.resolvedToken();
  if (!found) {
    throw new AuthenticationError("not logged in: no Hugging Face token found", {
      hint: "run `gpux login`, set HF_TOKEN, or pass --token",
    });
  }
  checkTokenShape(found);
  client.assertOnline("check the token");
  return await client.translate(
    async () => {
      const me = await whoAmI({
        hubUrl: client.endpoint,
        accessToken: found.token,
        fetch: client.hubFetch({}, options.signal),
      });
      if (typeof me?.name !== "string" || !me.name) {
        throw new NetworkError(
          `${client.endpoint} answered whoami without a user name: it does not look like a Hugging Face Hub API`,
          {
            hint: client.networkHint(),
          },
        );
      }
      const auth = me.auth?.accessToken;
      return dropUndefined({
        name: me.name,
        type: me.type,
        fullname: "fullname" in me ? me.fullname : undefined,
        email: "email" in me && me.email ? me.email : undefined,
        orgs: "orgs" in me && Array.isArray(me.orgs) ? me.orgs.map((o) => o.name) : [],
        token: auth ? dropUndefined({ name: auth.displayName, role: auth.role }) : undefined,
        tokenSource: found.source,
      });
    },
    {},
    options.signal,
    found.token,
  );
}
