import { formatError, maskCredentials, ProcessError } from '../errors';
import { DEFAULT_INDEX_URL } from '../model/environment';
import { expandIndexCredentials } from './credentials';

const index = { url: DEFAULT_INDEX_URL, extraUrls: [], findLinks: [], noIndex: false };
const spec = '/ws/environments/x/environment.json';

describe('index credentials from the environment', () => {
  it('expands ${VAR} placeholders at install time, percent-encoding them inside user:password@', () => {
    const env = { STUDIO_USER: 'ci', STUDIO_TOKEN: 'p@ss/w:rd!', HOST: 'pypi.studio' };
    const out = expandIndexCredentials(
      { ...index, url: 'https://${STUDIO_USER}:${STUDIO_TOKEN}@${HOST}/simple', extraUrls: ['https://${STUDIO_TOKEN}@extra.test/simple'], findLinks: ['/ws/wheels', 'https://${STUDIO_USER}:${STUDIO_TOKEN}@files.test/'] },
      spec,
      env,
    );
    expect(out.url).toBe('https://ci:p%40ss%2Fw%3Ard!@pypi.studio/simple');
    expect(out.extraUrls).toEqual(['https://p%40ss%2Fw%3Ard!@extra.test/simple']);
    expect(out.findLinks).toEqual(['/ws/wheels', 'https://ci:p%40ss%2Fw%3Ard!@files.test/']);
  });

  it('masks the expanded values everywhere, not only inside URLs', () => {
    expandIndexCredentials({ ...index, url: 'https://ci:${SECRET_TOKEN_X}@pypi.studio/simple' }, spec, { SECRET_TOKEN_X: 'tok-9f8e7d' });
    expect(maskCredentials('server said: bad token tok-9f8e7d')).toBe('server said: bad token ****');
    const error = new ProcessError('pip failed', 'pip', 1, 'Authorization: tok-9f8e7d\n401 Unauthorized');
    expect(formatError(error)).not.toContain('tok-9f8e7d');
  });

  it('names the field, the file and the variable when a placeholder is not set', () => {
    expect(() => expandIndexCredentials({ ...index, extraUrls: ['https://${NOT_SET_ANYWHERE}@x.test/simple'] }, spec, {})).toThrow(
      '"index.extraUrls[0]" in /ws/environments/x/environment.json uses ${NOT_SET_ANYWHERE}, which is not set',
    );
  });

  it('leaves URLs without placeholders alone', () => {
    expect(expandIndexCredentials(index, spec, {})).toEqual(index);
  });
});
