/**
 * Nx's self-hosted remote cache (NX_SELF_HOSTED_REMOTE_CACHE_SERVER) fails the
 * whole run when the server cannot be reached. For a developer off the VPN or
 * a CI agent during a cache-server restart, building locally is the better
 * answer: before tasks run, this hook probes the server once and, if nothing
 * answers, turns the remote cache off for this run with a visible warning.
 * Any HTTP answer (even 401) counts as reachable, so a wrong token still fails
 * loudly. PYDEPOT_REMOTE_CACHE_REQUIRED=1 keeps Nx's fail-fast behaviour (a CI
 * stage that must never build locally).
 */
export async function probeRemoteCache(env: NodeJS.ProcessEnv = process.env, timeoutMs = 3000): Promise<Record<string, string>> {
  const server = env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
  if (!server || /^(1|true)$/i.test(env.PYDEPOT_REMOTE_CACHE_REQUIRED ?? '')) return {};
  const url = `${server.replace(/\/+$/, '')}/v1/cache/pydepot-reachability-probe`;
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN ? { authorization: `Bearer ${env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN}` } : {},
    });
    await response.body?.cancel();
    return {};
  } catch (error) {
    const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    console.warn(
      `\n pydepot  WARNING: the remote cache ${server} is unreachable (${why}); this run uses the local cache only and builds what it lacks.\n` +
        '          Set PYDEPOT_REMOTE_CACHE_REQUIRED=1 to fail instead, or unset NX_SELF_HOSTED_REMOTE_CACHE_SERVER to stop probing.\n',
    );
    return { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: '' };
  }
}
