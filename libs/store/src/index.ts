export * from './data-source-options';
export * from './entities/setting.entity';
export * from './entities/usage-record.entity';
export * from './entities/virtual-key.entity';
export * from './repositories/setting.repository';
export * from './repositories/usage-record.repository';
export * from './repositories/virtual-key.repository';
export * from './store.module';
