import { BlockList, isIP } from 'node:net';

/**
 * Addresses a webhook must not reach when `webhook_deny_private_networks` is
 * on (the always-forbidden ones below included): loopback, private, link-local (incl. the 169.254.169.254 cloud metadata
 * service), carrier-grade NAT (Alibaba's metadata 100.100.100.200), unspecified,
 * multicast and reserved ranges. IPv6 forms that embed an IPv4 address
 * (mapped, NAT64, 6to4) are judged by that address.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['fc00::', 7], // unique local (incl. AWS fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The 8 16-bit groups of an IPv6 address (zone id ignored), or undefined. */
function groups(address: string): number[] | undefined {
  let text = address.split('%')[0]!;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    tail.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    text = text.slice(0, -v4[1]!.length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = [...parse(rest ?? ''), ...tail];
  if (rest === undefined) return [...left, ...tail].length === 8 ? [...left, ...tail] : undefined;
  const fill = 8 - left.length - right.length;
  return fill < 0 ? undefined : [...left, ...new Array<number>(fill).fill(0), ...right];
}

const v4From = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/** The IPv4 address an IPv6 address stands for (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16). */
function embeddedV4(g: number[]): string | undefined {
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return v4From(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4From(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4From(g[1]!, g[2]!);
  return undefined;
}

/**
 * Addresses no webhook may reach whatever the settings: unspecified ("this
 * host"), link-local (where cloud metadata services answer, 169.254.169.254)
 * and the other known metadata endpoints. A tenant's webhook must never read
 * the platform's cloud credentials.
 */
const forbidden = new BlockList();
forbidden.addSubnet('0.0.0.0', 8, 'ipv4');
forbidden.addSubnet('169.254.0.0', 16, 'ipv4');
forbidden.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
forbidden.addAddress('::', 'ipv6');
forbidden.addSubnet('fe80::', 10, 'ipv6');
forbidden.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6

export type AddressClass = 'forbidden' | 'private' | 'public';

/** forbidden: never reachable; private: reachable unless private networks are denied; public. */
export function classifyAddress(address: string): AddressClass {
  const bare = address.split('%')[0]!;
  const family = isIP(bare);
  let v4: string | undefined;
  if (family === 4) v4 = bare;
  else if (family === 6) {
    const g = groups(address);
    if (!g) return 'forbidden';
    v4 = embeddedV4(g);
  } else return 'forbidden'; // not an address at all: refuse rather than guess
  if (v4) return forbidden.check(v4, 'ipv4') ? 'forbidden' : blocked.check(v4, 'ipv4') ? 'private' : 'public';
  return forbidden.check(bare, 'ipv6') ? 'forbidden' : blocked.check(bare, 'ipv6') ? 'private' : 'public';
}

/** Blocked when private networks are denied (every non-public address). */
export function isBlockedAddress(address: string): boolean {
  return classifyAddress(address) !== 'public';
}

/** Why a webhook may not connect to `address` under the settings, or undefined when it may. */
export function addressRefusal(address: string, denyPrivateNetworks: boolean): string | undefined {
  const kind = classifyAddress(address);
  if (kind === 'forbidden') return 'a link-local, unspecified or cloud metadata address, never reachable by webhooks';
  if (kind === 'private' && denyPrivateNetworks) return 'a loopback or private address, refused because ROCKET_WEBHOOK_DENY_PRIVATE_NETWORKS is on';
  return undefined;
}
