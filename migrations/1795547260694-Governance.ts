import { MigrationInterface, QueryRunner } from "typeorm";

export class Governance1795547260694 implements MigrationInterface {
    name = 'Governance1795547260694'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "admin_audit_log" ("id" BIGSERIAL NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "actor" character varying(200) NOT NULL, "action" character varying(100) NOT NULL, "target_type" character varying(50) NOT NULL, "target_id" character varying(100), "before" jsonb, "after" jsonb, "request_id" uuid, CONSTRAINT "PK_9425be48a9c753f5753017c61b2" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_admin_audit_log_target" ON "admin_audit_log"  ("target_type", "target_id") `);
        await queryRunner.query(`CREATE TABLE "budgets" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "scope" character varying(20) NOT NULL, "scope_id" uuid NOT NULL, "period" character varying(20) NOT NULL, "limit_usd" numeric(18,6) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_9c8a51748f82387644b773da482" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_budgets_scope" ON "budgets"  ("scope", "scope_id") `);
        await queryRunner.query(`CREATE TABLE "budget_windows" ("budget_id" uuid NOT NULL, "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "spent_usd" numeric(20,10) NOT NULL DEFAULT '0', "reserved_usd" numeric(20,10) NOT NULL DEFAULT '0', CONSTRAINT "PK_1a9d572034dc0672d3d7d58c510" PRIMARY KEY ("budget_id", "window_start"))`);
        await queryRunner.query(`CREATE TABLE "customers" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "requests_per_minute" integer, "requests_per_day" integer, "tokens_per_minute" integer, "tokens_per_day" integer, "max_concurrency" integer, "allowed_models" text array, CONSTRAINT "PK_133ec679a801fab5e070f73d3ea" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE TABLE "limit_counters" ("name" character varying(200) NOT NULL, "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "value" bigint NOT NULL DEFAULT '0', "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_ca169023620dbffdfaf13e2d02d" PRIMARY KEY ("name", "window_start"))`);
        await queryRunner.query(`CREATE INDEX "ix_limit_counters_expires_at" ON "limit_counters"  ("expires_at") `);
        await queryRunner.query(`CREATE TABLE "provider_credentials" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "provider" character varying(100) NOT NULL, "name" character varying(200) NOT NULL, "secret_ciphertext" bytea NOT NULL, "secret_hint" character varying(16) NOT NULL, "weight" integer NOT NULL DEFAULT '1', "allowed_models" text array, "enabled" boolean NOT NULL DEFAULT true, "disabled_reason" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_31f2884572a5fef8e25a08b5a59" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_provider_credentials_provider" ON "provider_credentials"  ("provider") `);
        await queryRunner.query(`CREATE TABLE "teams" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "customer_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "requests_per_minute" integer, "requests_per_day" integer, "tokens_per_minute" integer, "tokens_per_day" integer, "max_concurrency" integer, "allowed_models" text array, CONSTRAINT "PK_7e5523774a38b08a6236d322403" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_teams_customer_id" ON "teams"  ("customer_id") `);
        await queryRunner.query(`CREATE TABLE "usage_rollups" ("id" BIGSERIAL NOT NULL, "bucket_start" TIMESTAMP WITH TIME ZONE NOT NULL, "key_id" uuid, "team_id" uuid, "customer_id" uuid, "provider" character varying(100), "model" character varying(300), "user" character varying(512), "requests" bigint NOT NULL DEFAULT '0', "errors" bigint NOT NULL DEFAULT '0', "prompt_tokens" bigint NOT NULL DEFAULT '0', "completion_tokens" bigint NOT NULL DEFAULT '0', "cached_tokens" bigint NOT NULL DEFAULT '0', "cost_usd" numeric(24,10) NOT NULL DEFAULT '0', "unpriced_requests" bigint NOT NULL DEFAULT '0', "latency_ms_sum" bigint NOT NULL DEFAULT '0', "latency_histogram" integer array NOT NULL, CONSTRAINT "PK_398b6772fa78a46f6eec8a59adf" PRIMARY KEY ("id"))`);
        await queryRunner.query(`ALTER TABLE "usage_records" ADD "team_id" uuid`);
        await queryRunner.query(`ALTER TABLE "usage_records" ADD "customer_id" uuid`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "team_id" uuid`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "active" boolean NOT NULL DEFAULT true`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "expires_at" TIMESTAMP WITH TIME ZONE`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "rotated_at" TIMESTAMP WITH TIME ZONE`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "requests_per_minute" integer`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "requests_per_day" integer`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "tokens_per_minute" integer`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "tokens_per_day" integer`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "max_concurrency" integer`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" ADD "allowed_models" text array`);
        await queryRunner.query(`CREATE INDEX "ix_usage_records_status_created_at" ON "usage_records"  ("status_code", "created_at") `);
        await queryRunner.query(`CREATE INDEX "ix_usage_records_team_created_at" ON "usage_records"  ("team_id", "created_at") `);
        await queryRunner.query(`CREATE INDEX "ix_virtual_keys_team_id" ON "virtual_keys"  ("team_id") `);
        // Hand-added: one rollup row per hour and dimensions, NULL ids included (TypeORM cannot declare NULLS NOT DISTINCT).
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_usage_rollups_dims" ON "usage_rollups" ("bucket_start", "key_id", "team_id", "customer_id", "provider", "model", "user") NULLS NOT DISTINCT`);
        // Hand-added: the admin audit log is append-only.
        await queryRunner.query(`CREATE FUNCTION admin_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'admin_audit_log is append-only'; END $$`);
        await queryRunner.query(`CREATE TRIGGER admin_audit_log_append_only BEFORE UPDATE OR DELETE ON "admin_audit_log" FOR EACH ROW EXECUTE FUNCTION admin_audit_log_append_only()`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TRIGGER admin_audit_log_append_only ON "admin_audit_log"`);
        await queryRunner.query(`DROP FUNCTION admin_audit_log_append_only()`);
        await queryRunner.query(`DROP INDEX "public"."uq_usage_rollups_dims"`);
        await queryRunner.query(`DROP INDEX "public"."ix_virtual_keys_team_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_usage_records_team_created_at"`);
        await queryRunner.query(`DROP INDEX "public"."ix_usage_records_status_created_at"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "allowed_models"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "max_concurrency"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "tokens_per_day"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "tokens_per_minute"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "requests_per_day"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "requests_per_minute"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "rotated_at"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "expires_at"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "active"`);
        await queryRunner.query(`ALTER TABLE "virtual_keys" DROP COLUMN "team_id"`);
        await queryRunner.query(`ALTER TABLE "usage_records" DROP COLUMN "customer_id"`);
        await queryRunner.query(`ALTER TABLE "usage_records" DROP COLUMN "team_id"`);
        await queryRunner.query(`DROP TABLE "usage_rollups"`);
        await queryRunner.query(`DROP INDEX "public"."ix_teams_customer_id"`);
        await queryRunner.query(`DROP TABLE "teams"`);
        await queryRunner.query(`DROP INDEX "public"."ix_provider_credentials_provider"`);
        await queryRunner.query(`DROP TABLE "provider_credentials"`);
        await queryRunner.query(`DROP INDEX "public"."ix_limit_counters_expires_at"`);
        await queryRunner.query(`DROP TABLE "limit_counters"`);
        await queryRunner.query(`DROP TABLE "customers"`);
        await queryRunner.query(`DROP TABLE "budget_windows"`);
        await queryRunner.query(`DROP INDEX "public"."ix_budgets_scope"`);
        await queryRunner.query(`DROP TABLE "budgets"`);
        await queryRunner.query(`DROP INDEX "public"."ix_admin_audit_log_target"`);
        await queryRunner.query(`DROP TABLE "admin_audit_log"`);
    }

}
