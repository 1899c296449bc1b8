/**
 * The playground's embedded files (src/serve/playground_assets.ts) are generated from src/serve/playground/ by
 * scripts/build_playground.ts: this fails while they differ, so an edit to the page is never served stale. The routes
 * serve each file with its type and the page's CSP.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { ASSETS_MODULE, PLAYGROUND_FILES, playgroundAssetsModule } from "../scripts/build_playground.ts";
import { PLAYGROUND_ASSETS } from "../src/serve/playground_assets.ts";
import { PLAYGROUND_CSP, playgroundRoutes } from "../src/serve/routes_playground.ts";

Deno.test("playground: src/serve/playground_assets.ts is what scripts/build_playground.ts makes of src/serve/playground/", async () => {
  assertEquals(
    await Deno.readTextFile(ASSETS_MODULE),
    await playgroundAssetsModule(),
    "stale: run `deno run --allow-read=src,scripts --allow-write=src scripts/build_playground.ts`",
  );
  for (const f of PLAYGROUND_FILES) {
    const asset = PLAYGROUND_ASSETS.find((a) => a.path === f.path);
    assertEquals(asset?.body, await Deno.readTextFile(new URL(`../src/serve/playground/${f.file}`, import.meta.url)));
  }
});

Deno.test("playground: every file is served with its type and a CSP without unsafe-inline; settings say whether a key is needed", async () => {
  assert(!PLAYGROUND_CSP.includes("unsafe"), PLAYGROUND_CSP);
  for (const apiKey of [true, false]) {
    const routes = playgroundRoutes({ apiKey });
    for (const f of PLAYGROUND_FILES) {
      const route = routes.find((r) => r.pattern === f.path)!;
      const handled = await route.handler({} as never);
      assertEquals(handled.headers?.["content-type"], f.contentType);
      assertEquals(handled.headers?.["content-security-policy"], PLAYGROUND_CSP);
    }
    const settings = await routes.find((r) => r.pattern === "/playground/settings.json")!.handler({} as never);
    assertEquals(settings.body, { apiKey });
  }
});
