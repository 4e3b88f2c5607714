/** What the uuencode tests share. */

/** POSIX uuencode's historical algorithm, "`" for zero as GNU sharutils writes it. */
export function uuencode(name: string, data: Uint8Array, eol = '\n'): string {
  const ch = (v: number) => String.fromCharCode(v === 0 ? 0x60 : v + 32);
  let out = `begin 644 ${name}${eol}`;
  for (let i = 0; i < data.length; i += 45) {
    const chunk = data.subarray(i, i + 45);
    let line = ch(chunk.length);
    for (let j = 0; j < chunk.length; j += 3) {
      const [a = 0, b = 0, c = 0] = [chunk[j], chunk[j + 1], chunk[j + 2]];
      line += ch(a >> 2) + ch(((a & 3) << 4) | (b >> 4)) + ch(((b & 15) << 2) | (c >> 6)) + ch(c & 63);
    }
    out += line + eol;
  }
  return `${out}\`${eol}end${eol}`;
}
