import { PydepotError, registerSecret } from '../errors';
import { IndexSettings, isUrl } from '../model/environment';

/**
 * Credentials for private indexes never live in a committed file. An index
 * URL names them as `${VARIABLE}` placeholders, expanded from the build
 * agent's environment only when an installer runs:
 *
 *   "url": "https://${STUDIO_INDEX_USER}:${STUDIO_INDEX_TOKEN}@pypi.studio/simple"
 *
 * The alternative is a netrc file (`~/.netrc`, or the file NETRC names),
 * which pip and uv both read; pydepot passes HOME and NETRC through to them.
 * Expanded values are registered as secrets: maskCredentials hides them in
 * every log line and error, wherever they appear. Cache keys and the lock's
 * fingerprint see only the placeholders, so rotating a token rebuilds nothing.
 */
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function expandIndexCredentials(index: IndexSettings, specFile: string, env: NodeJS.ProcessEnv = process.env): IndexSettings {
  const expand = (url: string, field: string) => expandUrl(url, field, specFile, env);
  // With noIndex the indexes are never contacted: their credentials are not needed (an air-gapped build).
  return {
    ...index,
    url: index.noIndex ? index.url : expand(index.url, 'index.url'),
    extraUrls: index.noIndex ? index.extraUrls : index.extraUrls.map((url, i) => expand(url, `index.extraUrls[${i}]`)),
    findLinks: index.findLinks.map((link, i) => (isUrl(link) ? expand(link, `index.findLinks[${i}]`) : link)),
  };
}

function expandUrl(url: string, field: string, specFile: string, env: NodeJS.ProcessEnv): string {
  if (!url.includes('${')) return url;
  // Values inside user:password@ are percent-encoded, so a password may hold any character.
  const at = url.indexOf('@', url.indexOf('://') + 3);
  const userinfoEnd = at >= 0 && !url.slice(0, at).slice(url.indexOf('://') + 3).includes('/') ? at : -1;
  return url.replace(PLACEHOLDER, (_m, name: string, offset: number) => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new PydepotError(`"${field}" in ${specFile} uses \${${name}}, which is not set in this build's environment`, {
        path: specFile,
        hint: `set ${name} on the build agent (a CI secret), or drop the placeholder and give the credentials in a netrc file (~/.netrc or the file NETRC names)`,
      });
    }
    const text = offset < userinfoEnd ? encodeURIComponent(value) : value;
    registerSecret(value);
    registerSecret(text);
    return text;
  });
}
