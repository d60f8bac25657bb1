/**
 * Allowed-model patterns on a key, team or customer: `provider/model` names where `*`
 * stands for any characters (`openai/*`, `*\/gpt-4o*`, `*`), compared without regard to
 * case. A pattern without a `/` names a model under any provider (`gpt-4o-mini`). A
 * dated snapshot is a different name: `openai/gpt-4o` does not allow
 * `openai/gpt-4o-2024-08-06` (write `openai/gpt-4o*` for that).
 */
const compiled = new Map<string, RegExp>();

export function modelAllowed(patterns: readonly string[], provider: string, model: string): boolean {
  const full = `${provider}/${model}`;
  return patterns.some((pattern) => {
    const target = pattern.includes('/') ? full : model;
    return toRegExp(pattern).test(target);
  });
}

function toRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`, 'is');
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
