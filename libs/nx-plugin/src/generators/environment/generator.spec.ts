import { createTreeWithEmptyWorkspace } from 'nx/src/generators/testing-utils/create-tree-with-empty-workspace';
import environmentGenerator, { importName } from './generator';

describe('environment generator', () => {
  it('writes a valid spec with smoke checks for the packages', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await environmentGenerator(tree, { name: 'texture-tools', python: '3.11', packages: 'pillow==11.3.0, click>=8', installer: 'uv' });
    expect(JSON.parse(tree.read('environments/texture-tools/environment.json', 'utf-8')!)).toEqual({
      $schema: '../../libs/core/src/spec/environment.schema.json',
      python: '3.11',
      installer: 'uv',
      packages: ['pillow==11.3.0', 'click>=8'],
      verify: { imports: ['PIL', 'click'] },
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

  it('guesses import names', () => {
    expect(importName('rich[jupyter]')).toBe('rich');
    expect(importName('PyYAML==6')).toBe('yaml');
    expect(importName('markdown-it-py')).toBe('markdown_it');
    expect(importName('typing-extensions')).toBe('typing_extensions');
  });
});
