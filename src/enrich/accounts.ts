/**
 * The forms in which sources write an account name, reduced to lookup keys.
 *
 * Keys are lower-case, so PACS upper-case ids (`JDOE`) match. `DOMAIN\name` (Windows, AD) and
 * `name@domain` (Okta logins, Entra UPNs, e-mail) have a full key (the whole name) and a bare
 * key (the name without its domain). A plain `name` has only a full key, equal to its bare key.
 */

export interface AccountKeys {
  full: string;
  bare: string;
}

export function accountKeys(name: string): AccountKeys {
  const full = name.trim().toLowerCase();
  return { full, bare: bareAccountName(full) };
}

/**
 * Removes the domain: the part up to the last backslash, and the part from the last `@`.
 * A name that is only a domain (`STJUDE\`) keeps its full form so that it never becomes empty.
 */
export function bareAccountName(name: string): string {
  let bare = name;
  const backslash = bare.lastIndexOf('\\');
  if (backslash >= 0) bare = bare.slice(backslash + 1);
  const at = bare.lastIndexOf('@');
  if (at > 0) bare = bare.slice(0, at);
  return bare === '' ? name : bare;
}
