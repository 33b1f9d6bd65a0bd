/**
 * Parses os-release(5): `KEY=value` lines, values optionally quoted, `#` comments. Backslash
 * escapes are honoured inside double quotes only, as the format says.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(.*?)\s*$/.exec(line);
    if (!match) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    fields[key] = unquote(raw);
  }
  return fields;
}

function unquote(raw: string): string {
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
    return raw.slice(1, -1).replace(/\\([\\$"`])/g, '$1');
  }
  if (raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'")) return raw.slice(1, -1);
  return raw;
}

/** Salt's names for distribution ids, so `os:Ubuntu` targets the same minions under Phoenix. */
const OS_NAMES: Readonly<Record<string, string>> = {
  ubuntu: 'Ubuntu',
  debian: 'Debian',
  raspbian: 'Raspbian',
  linuxmint: 'Mint',
  pop: 'Pop',
  devuan: 'Devuan',
  kali: 'Kali',
  rhel: 'RedHat',
  centos: 'CentOS',
  fedora: 'Fedora',
  amzn: 'Amazon',
  rocky: 'Rocky',
  almalinux: 'AlmaLinux',
  ol: 'OEL',
  sles: 'SUSE',
  'opensuse-leap': 'Leap',
  'opensuse-tumbleweed': 'openSUSE Tumbleweed',
  arch: 'Arch',
  manjaro: 'Manjaro',
  alpine: 'Alpine',
  gentoo: 'Gentoo',
};

const FAMILY_BY_OS: Readonly<Record<string, string>> = {
  Ubuntu: 'Debian',
  Debian: 'Debian',
  Raspbian: 'Debian',
  Mint: 'Debian',
  Pop: 'Debian',
  Devuan: 'Debian',
  Kali: 'Debian',
  RedHat: 'RedHat',
  CentOS: 'RedHat',
  Fedora: 'RedHat',
  Amazon: 'RedHat',
  Rocky: 'RedHat',
  AlmaLinux: 'RedHat',
  OEL: 'RedHat',
  SUSE: 'Suse',
  Leap: 'Suse',
  'openSUSE Tumbleweed': 'Suse',
  Arch: 'Arch',
  Manjaro: 'Arch',
  Alpine: 'Alpine',
  Gentoo: 'Gentoo',
};

/** A distribution Salt does not name is placed by its ID_LIKE (`ubuntu debian` → Debian). */
const FAMILY_BY_LIKE: ReadonlyArray<readonly [string, string]> = [
  ['debian', 'Debian'],
  ['ubuntu', 'Debian'],
  ['rhel', 'RedHat'],
  ['fedora', 'RedHat'],
  ['centos', 'RedHat'],
  ['suse', 'Suse'],
  ['arch', 'Arch'],
];

export interface OsGrains {
  os: string;
  os_family: string;
  osrelease?: string;
  osmajorrelease?: number;
  oscodename?: string;
  osfullname?: string;
  osfinger?: string;
}

/** The os* grains from os-release fields; `kernel` names the OS when there is no os-release. */
export function osGrains(kernel: string, release: Record<string, string> | undefined): OsGrains {
  if (kernel === 'Darwin') return { os: 'MacOS', os_family: 'MacOS' };
  if (kernel === 'Windows') return { os: 'Windows', os_family: 'Windows' };
  if (!release?.ID) return { os: kernel, os_family: kernel };

  const id = release.ID.toLowerCase();
  const os = OS_NAMES[id] ?? capitalize(id);
  const likes = (release.ID_LIKE ?? '').toLowerCase().split(/\s+/);
  const family = FAMILY_BY_OS[os] ?? FAMILY_BY_LIKE.find(([like]) => likes.includes(like))?.[1] ?? os;
  const grains: OsGrains = { os, os_family: family };
  // Salt reports Debian as `Debian`, not os-release's `Debian GNU/Linux` (its osfinger is Debian-12).
  const fullname = (release.NAME ?? os).replace(/ GNU\/Linux$/, '');
  grains.osfullname = fullname;
  const codename = release.VERSION_CODENAME ?? release.UBUNTU_CODENAME;
  if (codename) grains.oscodename = codename;
  const version = release.VERSION_ID;
  if (version) {
    grains.osrelease = version;
    const major = Number.parseInt(version, 10);
    if (Number.isFinite(major)) grains.osmajorrelease = major;
    // Salt fingerprints Ubuntu by its full release (22.04 and 22.10 differ), others by the major one.
    grains.osfinger = `${fullname}-${os === 'Ubuntu' || !Number.isFinite(major) ? version : String(major)}`;
  }
  return grains;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
