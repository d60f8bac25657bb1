import { MigrationInterface, QueryRunner } from "typeorm";

export class ResponseCache1795555875162 implements MigrationInterface {
    name = 'ResponseCache1795555875162'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "response_cache_entries" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "namespace" character varying(1024) NOT NULL, "owner" character varying(200) NOT NULL, "key_id" uuid, "scope_hash" character varying(64) NOT NULL, "request_hash" character varying(64) NOT NULL, "embedding" bytea, "lsh_keys" integer array, "completion" jsonb NOT NULL, "served_provider" character varying(100) NOT NULL, "served_model" character varying(300) NOT NULL, "cost_usd" numeric(18,10), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_5bf2c32c0839d290955ec7b7784" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_scope_hash" ON "response_cache_entries"  ("scope_hash") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "ux_response_cache_entries_request_hash" ON "response_cache_entries"  ("request_hash") `);
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_expires_at" ON "response_cache_entries"  ("expires_at") `);
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_key_id" ON "response_cache_entries"  ("key_id") `);
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_namespace_owner" ON "response_cache_entries"  ("namespace", "owner") `);
        // Semantic candidates: band signatures already hashed with their scope, so the GIN index finds only the bucket's rows.
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_lsh_keys" ON "response_cache_entries" USING gin ("lsh_keys")`);
        await queryRunner.query(`ALTER TABLE "usage_records" ADD "cache_result" character varying(20)`);
        await queryRunner.query(`ALTER TABLE "usage_records" ADD "cache_similarity" real`);
        await queryRunner.query(`ALTER TABLE "usage_records" ADD "cache_saved_usd" numeric(18,10)`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "usage_records" DROP COLUMN "cache_saved_usd"`);
        await queryRunner.query(`ALTER TABLE "usage_records" DROP COLUMN "cache_similarity"`);
        await queryRunner.query(`ALTER TABLE "usage_records" DROP COLUMN "cache_result"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_lsh_keys"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_namespace_owner"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_key_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_expires_at"`);
        await queryRunner.query(`DROP INDEX "public"."ux_response_cache_entries_request_hash"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_scope_hash"`);
        await queryRunner.query(`DROP TABLE "response_cache_entries"`);
    }

}
