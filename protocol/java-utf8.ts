/**
 * Bytes to a string as the JDK decodes UTF-8 (`new String(bytes, StandardCharsets.UTF_8)`), which is how Kafka's
 * broker reads every string of the protocol: resource names, principals, group ids. Node's decoder replaces some
 * malformed sequences differently, so the audit would name a resource the broker never saw (an ACL on a topic name
 * with an encoded surrogate, for one).
 */

/** Strict UTF-8 (no BOM stripping): a string identical to what Java's decoder makes of valid UTF-8. */
const utf8Valid = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const REPL = 0xfffd;
const isCont = (b: number): boolean => (b & 0xc0) === 0x80;
/** The JDK's isMalformed3_2: the second byte cannot follow this 3-byte lead (E0 needs A0-BF). */
const bad3Second = (b1: number, b2: number): boolean => (b1 === 0xe0 && (b2 & 0xe0) === 0x80) || !isCont(b2);
/** The JDK's isMalformed4_2 (F5-F7 leads included): the second byte cannot follow this 4-byte lead. */
const bad4Second = (b1: number, b2: number): boolean => b1 > 0xf4 || (b1 === 0xf0 && (b2 < 0x90 || b2 > 0xbf))
  || (b1 === 0xf4 && (b2 & 0xf0) !== 0x80) || !isCont(b2);

/**
 * `new String(bytes, StandardCharsets.UTF_8)` as the JDK decodes it (String.decodeUTF8_UTF16 with replacement;
 * checked against OpenJDK 17 for every sequence of up to 4 bytes drawn from the bytes that matter, and by the
 * differential test in test/fuzz/sasl-tokens.fuzz.test.ts): valid UTF-8 as usual and a leading BOM kept;
 * malformed input becomes U+FFFD. The only departure from the WHATWG TextDecoder is ED followed by A0-BF (an
 * encoded surrogate): the JDK replaces ED A0 80 with one U+FFFD (TextDecoder: three) and ED A0 41 with one
 * U+FFFD before the "A" (TextDecoder: two).
 */
export function javaUtf8(bytes: Uint8Array): string {
  try {
    return utf8Valid.decode(bytes); // the same valid set: no overlongs, surrogates or code points > U+10FFFF
  } catch {
    // malformed somewhere: the JDK's replacement rules below
  }
  // At most one UTF-16 unit per input byte (a 4-byte sequence gives two), so the output fits in sl units.
  const sl = bytes.length;
  const out = new Uint16Array(sl);
  let dp = 0;
  let sp = 0;
  while (sp < sl) {
    const b1 = bytes[sp++];
    if (b1 < 0x80) {
      out[dp++] = b1;
    } else if (b1 >= 0xc2 && b1 <= 0xdf) { // 2 bytes
      if (sp < sl) {
        const b2 = bytes[sp];
        if (!isCont(b2)) out[dp++] = REPL; // b2 is read again as a lead byte
        else { out[dp++] = ((b1 & 0x1f) << 6) | (b2 & 0x3f); sp++; }
        continue;
      }
      out[dp++] = REPL;
      break;
    } else if (b1 >= 0xe0 && b1 <= 0xef) { // 3 bytes
      if (sp + 1 < sl) {
        const b2 = bytes[sp];
        const b3 = bytes[sp + 1];
        if (bad3Second(b1, b2) || !isCont(b3)) {
          out[dp++] = REPL;
          sp += bad3Second(b1, b2) ? 0 : 1; // malformed3: the lead byte alone, or lead and second byte
        } else {
          const c = ((b1 & 0x0f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
          out[dp++] = c >= 0xd800 && c <= 0xdfff ? REPL : c; // an encoded surrogate: one U+FFFD for 3 bytes
          sp += 2;
        }
        continue;
      }
      if (sp < sl && bad3Second(b1, bytes[sp])) { out[dp++] = REPL; continue; }
      out[dp++] = REPL;
      break;
    } else if (b1 >= 0xf0 && b1 <= 0xf7) { // 4 bytes
      if (sp + 2 < sl) {
        const b2 = bytes[sp];
        const b3 = bytes[sp + 1];
        const b4 = bytes[sp + 2];
        const uc = ((b1 & 0x07) << 18) | ((b2 & 0x3f) << 12) | ((b3 & 0x3f) << 6) | (b4 & 0x3f);
        if (!isCont(b2) || !isCont(b3) || !isCont(b4) || uc < 0x10000 || uc > 0x10ffff) {
          out[dp++] = REPL;
          sp += bad4Second(b1, b2) ? 0 : !isCont(b3) ? 1 : 2; // malformed4
        } else {
          out[dp++] = 0xd800 + ((uc - 0x10000) >> 10);
          out[dp++] = 0xdc00 + ((uc - 0x10000) & 0x3ff);
          sp += 3;
        }
        continue;
      }
      if (b1 > 0xf4 || (sp < sl && bad4Second(b1, bytes[sp]))) { out[dp++] = REPL; continue; }
      sp++;
      out[dp++] = REPL;
      if (sp < sl && !isCont(bytes[sp])) continue;
      break;
    } else {
      out[dp++] = REPL; // 0x80-0xc1, 0xf8-0xff
    }
  }
  return Buffer.from(out.buffer, 0, dp * 2).toString('utf16le');
}
