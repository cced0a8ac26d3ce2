// Writes docs/configuration.md from the compiled configuration schema.
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../dist/src/config/docs.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigReference());
