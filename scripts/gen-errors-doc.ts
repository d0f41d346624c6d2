// Writes docs/errors.md from the error tables (src/errors.ts and each module's errors.ts).
import { writeFileSync } from 'node:fs';
import { errorsMarkdown } from '../src/errors.ts';

writeFileSync(new URL('../docs/errors.md', import.meta.url), errorsMarkdown());
