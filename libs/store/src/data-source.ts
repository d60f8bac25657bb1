/**
 * The DataSource the TypeORM CLI uses (`npm run migration:generate -- migrations/Name`).
 * It reads the same environment as the gateway and builds its options with the same function.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '@tokenhub/config';
import { buildDataSourceOptions } from './data-source-options';

const config = loadConfig(process.env);
export default new DataSource({ ...buildDataSourceOptions({ ...config, migrationsRun: false }) });
