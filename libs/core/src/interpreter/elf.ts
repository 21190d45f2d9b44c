/**
 * Just enough ELF to read the library search path (DT_RPATH / DT_RUNPATH) of
 * an executable or shared object, natively: the audit runs on machines
 * without patchelf or readelf, and on Windows build agents checking a Linux
 * environment. Returns undefined for anything that is not a readable ELF.
 */
export function isElf(data: Buffer): boolean {
  return data.length > 4 && data.readUInt32BE(0) === 0x7f454c46;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

export function readElfRunpaths(data: Buffer): string[] | undefined {
  return readDynamicStrings(data, [DT_RPATH, DT_RUNPATH])?.flatMap((value) => value.split(':').filter(Boolean));
}

/** The libraries an ELF file needs (DT_NEEDED), e.g. libpython3.12.so.1.0. */
export function readElfNeeded(data: Buffer): string[] | undefined {
  return readDynamicStrings(data, [DT_NEEDED]);
}

/** The string values of the dynamic entries with these tags, in file order. */
function readDynamicStrings(data: Buffer, tags: number[]): string[] | undefined {
  if (!isElf(data)) return undefined;
  const is64 = data[4] === 2;
  const le = data[5] === 1;
  const u16 = (o: number) => (le ? data.readUInt16LE(o) : data.readUInt16BE(o));
  const u32 = (o: number) => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const word = (o: number) => (is64 ? Number(le ? data.readBigUInt64LE(o) : data.readBigUInt64BE(o)) : u32(o));
  try {
    const phoff = is64 ? word(0x20) : u32(0x1c);
    const phentsize = u16(is64 ? 0x36 : 0x2a);
    const phnum = u16(is64 ? 0x38 : 0x2c);
    const loads: Array<{ vaddr: number; offset: number; filesz: number }> = [];
    let dynamic: { offset: number; size: number } | undefined;
    for (let i = 0; i < phnum; i++) {
      const ph = phoff + i * phentsize;
      const type = u32(ph);
      const offset = is64 ? word(ph + 8) : u32(ph + 4);
      const vaddr = is64 ? word(ph + 16) : u32(ph + 8);
      const filesz = is64 ? word(ph + 32) : u32(ph + 16);
      if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
      if (type === PT_DYNAMIC) dynamic = { offset, size: filesz };
    }
    if (!dynamic) return [];
    const entrySize = is64 ? 16 : 8;
    let strtab: number | undefined;
    const wanted: number[] = [];
    for (let at = dynamic.offset; at + entrySize <= dynamic.offset + dynamic.size; at += entrySize) {
      const tag = is64 ? word(at) : u32(at);
      const value = is64 ? word(at + 8) : u32(at + 4);
      if (tag === DT_NULL) break;
      if (tag === DT_STRTAB) strtab = value;
      if (tags.includes(tag)) wanted.push(value);
    }
    if (strtab === undefined || wanted.length === 0) return [];
    const segment = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
    const base = segment ? strtab - segment.vaddr + segment.offset : strtab;
    return wanted.flatMap((offset) => {
      const start = base + offset;
      const end = data.indexOf(0, start);
      return [data.subarray(start, end < 0 ? undefined : end).toString('utf8')];
    });
  } catch {
    return undefined; // truncated or corrupt: not ours to judge here
  }
}
