import { createTreeWithEmptyWorkspace } from 'nx/src/generators/testing-utils/create-tree-with-empty-workspace';
import environmentGenerator, { rawOption } from './generator';

describe('environment generator', () => {
  it('writes a valid spec with smoke checks for the packages', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await environmentGenerator(tree, { name: 'texture-tools', python: '3.11', packages: 'pillow==11.3.0, click>=8', installer: 'uv' });
    expect(JSON.parse(tree.read('environments/texture-tools/environment.json', 'utf-8')!)).toEqual({
      $schema: '../../libs/core/src/model/environment.schema.json',
      python: '3.11',
      installer: 'uv',
      packages: ['pillow==11.3.0', 'click>=8'],
      verify: { importPackages: true },
    });
  });

  it('refuses a bad version or an existing environment before writing anything', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await expect(environmentGenerator(tree, { name: 'x', python: '2.7' })).rejects.toThrow(/field "python"/);
    expect(tree.exists('environments/x/environment.json')).toBe(false);
    await environmentGenerator(tree, { name: 'x' });
    await expect(environmentGenerator(tree, { name: 'x' })).rejects.toThrow(/already exists/);
  });

  it('builds on a base environment with --base, which must exist', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await environmentGenerator(tree, { name: 'studio-core', packages: 'click' });
    await environmentGenerator(tree, { name: 'exporter', base: 'studio-core', packages: 'rich' });
    expect(JSON.parse(tree.read('environments/exporter/environment.json', 'utf-8')!)).toMatchObject({ base: 'studio-core', packages: ['rich'] });
    expect(JSON.parse(tree.read('environments/exporter/environment.json', 'utf-8')!).python).toBeUndefined();
    await expect(environmentGenerator(tree, { name: 'y', base: 'nope' })).rejects.toThrow(/no environments\/nope\/environment\.json/);
    await expect(environmentGenerator(tree, { name: 'z', base: 'studio-core', python: '3.12' })).rejects.toThrow(/exclude each other/);
  });

  it('reads a version Nx parsed as a number as it was typed', () => {
    expect(rawOption('python', 3.1, ['node', 'nx', 'g', 'env', 'x', '--python', '3.10'])).toBe('3.10');
    expect(rawOption('python', 3.12, ['node', 'nx', 'g', 'env', 'x', '--python=3.12'])).toBe('3.12');
    expect(rawOption('python', '3.11', [])).toBe('3.11');
    expect(rawOption('python', undefined, [])).toBeUndefined();
  });
});
