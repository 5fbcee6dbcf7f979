/**
 * `WWW-Authenticate` parsing (RFC 7235): a list of challenges, each a scheme followed by
 * `name=value` parameters where values may be quoted strings with backslash escapes. Registries
 * send `Basic realm="..."` or `Bearer realm="...",service="...",scope="..."`.
 */

export interface Challenge {
  /** Lower-cased: `basic`, `bearer`, ... */
  scheme: string;
  /** Parameter names lower-cased. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) out.push(...parseOne(value));
  return out;
}

function parseOne(input: string): Challenge[] {
  const out: Challenge[] = [];
  let s = input;
  let current: Challenge | undefined;
  const skip = (re: RegExp) => {
    const m = re.exec(s);
    if (m) s = s.slice(m[0].length);
    return m;
  };
  while (true) {
    skip(/^[\s,]+/);
    if (s.length === 0) break;
    const word = skip(TOKEN);
    if (!word) {
      s = s.slice(1); // garbage: step over it
      continue;
    }
    const save = s;
    skip(/^\s*/);
    if (s.startsWith('=') && current) {
      // A parameter of the current challenge.
      s = s.slice(1);
      skip(/^\s*/);
      current.params[word[0].toLowerCase()] = readValue();
      continue;
    }
    s = save;
    current = { scheme: word[0].toLowerCase(), params: {} };
    out.push(current);
  }
  return out;

  function readValue(): string {
    if (s.startsWith('"')) {
      let value = '';
      let i = 1;
      for (; i < s.length; i++) {
        const c = s[i] as string;
        if (c === '\\' && i + 1 < s.length) {
          value += s[++i];
        } else if (c === '"') {
          break;
        } else {
          value += c;
        }
      }
      s = s.slice(i + 1);
      return value;
    }
    const m = /^[^,\s]*/.exec(s);
    const value = m ? m[0] : '';
    s = s.slice(value.length);
    return value;
  }
}
