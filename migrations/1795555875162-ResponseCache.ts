import { MigrationInterface, QueryRunner } from "typeorm";

export class ResponseCache1795555875162 implements MigrationInterface {
    name = 'ResponseCache1795555875162'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "response_cache_entries" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "namespace" character varying(1024) NOT NULL, "owner" character varying(200) NOT NULL, "key_id" uuid, "scope_hash" character varying(64) NOT NULL, "request_hash" character varying(64) NOT NULL, "embedding" bytea, "lsh_keys" integer array, "completion" jsonb NOT NULL, "served_provider" character varying(100) NOT NULL, "served_model" character varying(300) NOT NULL, "cost_usd" numeric(18,10), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_5bf2c32c0839d290955ec7b7784" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "ux_response_cache_entries_request_hash" ON "response_cache_entries"  ("request_hash") `);
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_expires_at" ON "response_cache_entries"  ("expires_at") `);
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_key_id" ON "response_cache_entries"  ("key_id") `);
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_namespace_owner" ON "response_cache_entries"  ("namespace", "owner") `);
        // Semantic candidates: band signatures already hashed with their scope, so the GIN index finds only the bucket's rows.
        // No pending list (fastupdate off): lookups never scan unmerged inserts; the inserts are batched off the hot path.
        await queryRunner.query(`CREATE INDEX "ix_response_cache_entries_lsh_keys" ON "response_cache_entries" USING gin ("lsh_keys") WITH (fastupdate = off)`);
        // The rows of a scope sharing a band with a semantic lookup. A function, for its SET clause: Postgres guesses
        // the selectivity of an array overlap from a per-element default that grows with the number of keys (48 keys:
        // ~10% of the table, against a handful of rows in fact) and would prefer a sequential scan, or the expiry index
        // (hence the expiry written so that it does not apply); the GIN index is always the right path.
        await queryRunner.query(`CREATE FUNCTION "response_cache_band_matches"("keys" integer[], "scope" character varying, "max_rows" integer)
            RETURNS TABLE ("id" uuid, "lsh_keys" integer[]) LANGUAGE sql STABLE SET enable_seqscan = off AS $$
              SELECT e."id", e."lsh_keys" FROM "response_cache_entries" e
               WHERE e."lsh_keys" && "keys" AND e."scope_hash" = "scope" AND e."expires_at" - now() > interval '0' AND e."embedding" IS NOT NULL
               LIMIT "max_rows"
            $$`);
        await queryRunner.query(`ALTER TABLE "usage_records" ADD "cache_result" character varying(20)`);
        await queryRunner.query(`ALTER TABLE "usage_records" ADD "cache_similarity" real`);
        await queryRunner.query(`ALTER TABLE "usage_records" ADD "cache_saved_usd" numeric(18,10)`);
        for (const table of ['customers', 'teams', 'virtual_keys']) {
            await queryRunner.query(`ALTER TABLE "${table}" ADD "cache_namespace" character varying(1024)`);
            await queryRunner.query(`ALTER TABLE "${table}" ADD "cache_ttl_seconds" integer`);
        }
        await queryRunner.query(`ALTER TABLE "usage_rollups" ADD "cache_hits" bigint NOT NULL DEFAULT '0'`);
        await queryRunner.query(`ALTER TABLE "usage_rollups" ADD "cache_saved_usd" numeric(24,10) NOT NULL DEFAULT '0'`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "usage_rollups" DROP COLUMN "cache_saved_usd"`);
        await queryRunner.query(`ALTER TABLE "usage_rollups" DROP COLUMN "cache_hits"`);
        for (const table of ['virtual_keys', 'teams', 'customers']) {
            await queryRunner.query(`ALTER TABLE "${table}" DROP COLUMN "cache_ttl_seconds"`);
            await queryRunner.query(`ALTER TABLE "${table}" DROP COLUMN "cache_namespace"`);
        }
        await queryRunner.query(`ALTER TABLE "usage_records" DROP COLUMN "cache_saved_usd"`);
        await queryRunner.query(`ALTER TABLE "usage_records" DROP COLUMN "cache_similarity"`);
        await queryRunner.query(`ALTER TABLE "usage_records" DROP COLUMN "cache_result"`);
        await queryRunner.query(`DROP FUNCTION "response_cache_band_matches"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_lsh_keys"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_namespace_owner"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_key_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_response_cache_entries_expires_at"`);
        await queryRunner.query(`DROP INDEX "public"."ux_response_cache_entries_request_hash"`);
        await queryRunner.query(`DROP TABLE "response_cache_entries"`);
    }

}
