// Reads the built-in rule pack (this directory) and local rule directories from disk. The parsing and
// validation are pure (src/detect/rule-schema.ts); this file only lists and reads the files.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildRulePack, type RuleOverride, type RulePack, type RuleSource } from '../src/detect/rule-schema.ts';
import { createDetector, type Detector } from '../src/detect/detector.ts';
import { createGeoLookup } from '../src/enrich/geo.ts';
import { OperatorError } from '../src/errors.ts';
import { PROJECT_ROOT } from '../src/paths.ts';

export const BUILTIN_RULES_DIR = path.join(PROJECT_ROOT, 'rules');

/** The rule and cases files of a directory, sorted by name. */
export function readRuleSources(dir: string): RuleSource[] {
  const out: RuleSource[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.yaml') && !name.endsWith('.yml')) continue;
    const p = path.join(dir, name);
    if (!statSync(p).isFile()) continue;
    out.push({ path: p, text: readFileSync(p, 'utf8') });
  }
  return out;
}

/**
 * The built-in pack followed by the local directories (config detect.ruleDirs): a local rule with a
 * built-in's id replaces it. Unreadable directories are reported as problems.
 */
export function loadRulePackFromDirs(extraDirs: readonly string[] = [], opts: { builtin?: boolean } = {}): { pack: RulePack; problems: string[] } {
  const sources: RuleSource[] = [];
  const problems: string[] = [];
  const dirs = [...(opts.builtin === false ? [] : [BUILTIN_RULES_DIR]), ...extraDirs];
  for (const d of dirs) {
    try {
      sources.push(...readRuleSources(d));
    } catch (e) {
      problems.push(`${d}: cannot read rule directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const built = buildRulePack(sources);
  return { pack: built.pack, problems: [...problems, ...built.problems] };
}

/**
 * The detector the service and the CLI use, built from configuration: built-in pack + detect.ruleDirs,
 * detect.overrides, offline geo unless enrich.geo is 'none'. Throws TW_RULES_INVALID listing every problem.
 */
export function buildDetector(config: {
  detect: { ruleDirs: string[]; overrides: RuleOverride[] };
  enrich: { geo: 'offline' | 'none'; cityDb?: string; asnDb?: string };
}): Detector {
  const { pack, problems } = loadRulePackFromDirs(config.detect.ruleDirs);
  if (problems.length) throw new OperatorError('TW_RULES_INVALID', { count: problems.length }, { details: problems });
  const geo = config.enrich.geo === 'none' ? undefined : createGeoLookup({ cityDb: config.enrich.cityDb, asnDb: config.enrich.asnDb });
  return createDetector({ pack, geo, overrides: config.detect.overrides });
}
