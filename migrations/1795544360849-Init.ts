import { MigrationInterface, QueryRunner } from "typeorm";

export class Init1795544360849 implements MigrationInterface {
    name = 'Init1795544360849'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "settings" ("name" character varying(100) NOT NULL, "value" text NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ca7857276d2a30f4dcfa0e42cd4" PRIMARY KEY ("name"))`);
        await queryRunner.query(`CREATE TABLE "usage_records" ("request_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE NOT NULL, "endpoint" character varying(100) NOT NULL, "key_id" uuid, "principal" character varying(200) NOT NULL, "user" character varying(512), "metadata" jsonb, "requested_model" character varying(300), "served_provider" character varying(100), "served_model" character varying(300), "attempts" jsonb NOT NULL DEFAULT '[]'::jsonb, "status_code" smallint NOT NULL, "error_type" character varying(100), "error_code" character varying(100), "error_message" text, "prompt_tokens" integer, "completion_tokens" integer, "cached_tokens" integer, "total_tokens" integer, "cost_usd" numeric(18,10), "price_catalog_version" character varying(40), "latency_ms" integer NOT NULL, "ttft_ms" integer, "stream" boolean NOT NULL, CONSTRAINT "PK_d6b7bd75d13514c338ec342a22b" PRIMARY KEY ("request_id"))`);
        await queryRunner.query(`CREATE INDEX "ix_usage_records_model_created_at" ON "usage_records"  ("served_model", "created_at") `);
        await queryRunner.query(`CREATE INDEX "ix_usage_records_user_created_at" ON "usage_records"  ("user", "created_at") `);
        await queryRunner.query(`CREATE INDEX "ix_usage_records_key_created_at" ON "usage_records"  ("key_id", "created_at") `);
        await queryRunner.query(`CREATE INDEX "ix_usage_records_created_at" ON "usage_records"  ("created_at", "request_id") `);
        // Hand-added: TypeORM cannot declare a GIN index. It serves metadata containment (@>) queries.
        await queryRunner.query(`CREATE INDEX "ix_usage_records_metadata" ON "usage_records" USING GIN ("metadata" jsonb_path_ops)`);
        await queryRunner.query(`CREATE TABLE "virtual_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "key_hash" character(64) NOT NULL, "key_hint" character varying(32) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_aa5574e4ae42b5050ab1414c0b2" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_virtual_keys_key_hash" ON "virtual_keys"  ("key_hash") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."uq_virtual_keys_key_hash"`);
        await queryRunner.query(`DROP TABLE "virtual_keys"`);
        await queryRunner.query(`DROP INDEX "public"."ix_usage_records_created_at"`);
        await queryRunner.query(`DROP INDEX "public"."ix_usage_records_key_created_at"`);
        await queryRunner.query(`DROP INDEX "public"."ix_usage_records_user_created_at"`);
        await queryRunner.query(`DROP INDEX "public"."ix_usage_records_model_created_at"`);
        await queryRunner.query(`DROP INDEX "public"."ix_usage_records_metadata"`);
        await queryRunner.query(`DROP TABLE "usage_records"`);
        await queryRunner.query(`DROP TABLE "settings"`);
    }

}
