DROP INDEX `allocations_workload_name_unique`;--> statement-breakpoint
DROP INDEX `allocations_workload_idx`;--> statement-breakpoint
CREATE INDEX `allocations_workload_idx` ON `allocations` (`workload_id`) WHERE "allocations"."workload_id" IS NOT NULL;