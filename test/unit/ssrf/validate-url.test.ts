import { describe, it, expect } from 'vitest';
import { validateWebhookUrl, MAX_WEBHOOK_URL_LENGTH } from '../../../src/ssrf/validate-url.ts';

const strict = { allowPrivateNetworks: false };
const lenient = { allowPrivateNetworks: true };

function reasonOf(input: string, opts = strict): string {
  const r = validateWebhookUrl(input, opts);
  if (r.ok) throw new Error(`expected ${input} to be refused, got ${r.url}`);
  return r.reason;
}

describe('validateWebhookUrl: accepted URLs', () => {
  it.each([
    ['https://hooks.example.com/in', 'https://hooks.example.com/in'],
    ['https://hooks.example.com:8443/a?b=c', 'https://hooks.example.com:8443/a?b=c'],
    ['https://HOOKS.Example.COM/Path', 'https://hooks.example.com/Path'],
    ['https://hooks.example.com:443/', 'https://hooks.example.com/'],
    ['https://8.8.8.8/hook', 'https://8.8.8.8/hook'],
    ['https://[2606:4700:4700::1111]/hook', 'https://[2606:4700:4700::1111]/hook'],
    ['https://hooks.example.com:65535/', 'https://hooks.example.com:65535/'],
  ])('%s → %s', (input, url) => {
    expect(validateWebhookUrl(input, strict)).toEqual({ ok: true, url });
  });

  it('drops the fragment', () => {
    expect(validateWebhookUrl('https://example.com/a?x=1#section', strict)).toEqual({
      ok: true,
      url: 'https://example.com/a?x=1',
    });
    expect(validateWebhookUrl('https://example.com/#', strict)).toEqual({
      ok: true,
      url: 'https://example.com/',
    });
  });

  it('converts IDN host names to punycode', () => {
    expect(validateWebhookUrl('https://bücher.example/', strict)).toEqual({
      ok: true,
      url: 'https://xn--bcher-kva.example/',
    });
  });
});

describe('validateWebhookUrl: length', () => {
  const base = 'https://example.com/';
  const ofLength = (n: number) => base + 'a'.repeat(n - base.length);

  it('accepts exactly 2048 characters', () => {
    const input = ofLength(MAX_WEBHOOK_URL_LENGTH);
    expect(input).toHaveLength(2048);
    expect(validateWebhookUrl(input, strict)).toEqual({ ok: true, url: input });
  });

  it('refuses 2049 characters instead of truncating', () => {
    const input = ofLength(MAX_WEBHOOK_URL_LENGTH + 1);
    expect(input).toHaveLength(2049);
    expect(reasonOf(input)).toMatch(/at most 2048/);
  });
});

describe('validateWebhookUrl: scheme, credentials, port, syntax', () => {
  it('requires https unless private networks are allowed', () => {
    expect(reasonOf('http://example.com/')).toBe('url must use https');
    expect(validateWebhookUrl('http://example.com/', lenient)).toEqual({
      ok: true,
      url: 'http://example.com/',
    });
  });

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'ws://example.com/', 'data:text/plain,x'])(
    'refuses scheme %s even with allowPrivateNetworks',
    (input) => {
      expect(reasonOf(input)).toBe('url must use https');
      expect(reasonOf(input, lenient)).toBe('url must use http or https');
    },
  );

  it.each(['https://user:pass@example.com/', 'https://user@example.com/', 'https://:pass@example.com/'])(
    'refuses credentials in %s',
    (input) => {
      expect(reasonOf(input)).toBe('url must not contain credentials');
      expect(reasonOf(input, lenient)).toBe('url must not contain credentials');
    },
  );

  it.each(['https://example.com:0/', 'https://example.com:00/'])('refuses port 0: %s', (input) => {
    expect(reasonOf(input)).toMatch(/port/);
  });

  it('refuses ports above 65535', () => {
    expect(reasonOf('https://example.com:65536/')).toMatch(/not a valid/);
  });

  it.each(['', '   ', 'example.com', '/relative/path', 'https://', 'https://exa mple.com/', 'https://[::1/'])(
    'refuses unparsable %j',
    (input) => {
      expect(validateWebhookUrl(input, strict).ok).toBe(false);
    },
  );
});

describe('validateWebhookUrl: non-public destinations', () => {
  it.each([
    // Every numeric IPv4 spelling the WHATWG parser normalises to 127.0.0.1
    ['https://2130706433/', 'loopback'],
    ['https://0x7f000001/', 'loopback'],
    ['https://0177.0.0.1/', 'loopback'],
    ['https://127.1/', 'loopback'],
    ['https://0x7f.1/', 'loopback'],
    ['https://127.0.0.1./', 'loopback'],
    ['https://0/', 'unspecified'],
    ['https://10.0.0.1/', 'private'],
    ['https://0xa.0.0.1/', 'private'],
    ['https://192.168.0.1:8443/', 'private'],
    ['https://100.64.0.1/', 'carrierGradeNat'],
    ['https://169.254.169.254/latest/meta-data', 'cloud-metadata'],
    ['https://2852039166/latest/meta-data', 'cloud-metadata'],
    ['https://192.0.2.1/', 'reserved'],
    ['https://[::1]/', 'loopback'],
    ['https://[::]/', 'unspecified'],
    ['https://[::ffff:127.0.0.1]/', 'ipv4Mapped/loopback'],
    ['https://[::ffff:7f00:1]/', 'ipv4Mapped/loopback'],
    ['https://[::ffff:a9fe:a9fe]/', 'ipv4Mapped/cloud-metadata'],
    ['https://[::127.0.0.1]/', 'ipv4-compatible/loopback'],
    ['https://[fe80::1]/', 'linkLocal'],
    ['https://[fd00:ec2::254]/', 'cloud-metadata'],
    ['https://[fc00::1]/', 'uniqueLocal'],
    ['https://[2002:a00:1::]/', '6to4/private'],
    ['https://[64:ff9b::10.0.0.1]/', 'nat64/private'],
    ['https://[2001:db8::1]/', 'reserved'],
  ])('%s → refused (%s)', (input, range) => {
    expect(reasonOf(input)).toBe(`url points to a non-public address (${range})`);
  });

  it('refuses http://2130706433/ (scheme is checked before the host)', () => {
    expect(reasonOf('http://2130706433/')).toBe('url must use https');
  });

  it('refuses IPv6 zone ids (the WHATWG parser rejects them)', () => {
    expect(reasonOf('https://[fe80::1%25eth0]/')).toMatch(/not a valid/);
    expect(reasonOf('https://[fe80::1%25eth0]/', lenient)).toMatch(/not a valid/);
  });

  it.each([
    'https://localhost/',
    'https://localhost./',
    'https://LOCALHOST/',
    'https://LocalHost.:8443/x',
    'https://a.b.localhost/',
    'https://api.localhost./',
    'https://localhost../',
    'https://%6c%6fcalhost/',
    'https://ｌｏｃａｌｈｏｓｔ/',
  ])('refuses %s', (input) => {
    expect(reasonOf(input)).toBe('url points to localhost');
  });

  it('does not mistake look-alike names for localhost', () => {
    expect(validateWebhookUrl('https://localhost.example.com/', strict).ok).toBe(true);
    expect(validateWebhookUrl('https://notlocalhost/', strict).ok).toBe(true);
  });

  it('reports public embedded IPv4 in 6to4/NAT64 as allowed (judged by the embedded address)', () => {
    expect(validateWebhookUrl('https://[2002:808:808::1]/', strict).ok).toBe(true);
    expect(validateWebhookUrl('https://[64:ff9b::8.8.8.8]/', strict)).toEqual({
      ok: true,
      url: 'https://[64:ff9b::808:808]/',
    });
  });
});

describe('validateWebhookUrl: allowPrivateNetworks', () => {
  it.each([
    ['http://127.0.0.1:8080/hook', 'http://127.0.0.1:8080/hook'],
    ['http://localhost:3000/', 'http://localhost:3000/'],
    ['http://2130706433/', 'http://127.0.0.1/'],
    ['https://[::1]/', 'https://[::1]/'],
    ['http://10.1.2.3/', 'http://10.1.2.3/'],
    ['https://169.254.169.254/', 'https://169.254.169.254/'],
  ])('accepts %s', (input, url) => {
    expect(validateWebhookUrl(input, lenient)).toEqual({ ok: true, url });
  });
});
