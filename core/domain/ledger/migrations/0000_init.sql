CREATE TABLE `allocations` (
	`id` text PRIMARY KEY NOT NULL,
	`resource_id` text NOT NULL,
	`node_id` text NOT NULL,
	`state` text NOT NULL,
	`cpu_milli` integer NOT NULL,
	`memory` integer NOT NULL,
	`gpu` integer NOT NULL,
	`image` text NOT NULL,
	`command` text,
	`workload_name` text NOT NULL,
	`workload_id` text,
	`workload_state` text,
	`app_id` text,
	`owner` text NOT NULL,
	`created_at` text NOT NULL,
	`committed_at` text,
	`released_at` text,
	`release_reason` text,
	`removed_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `allocations_workload_name_unique` ON `allocations` (`workload_name`);--> statement-breakpoint
CREATE INDEX `allocations_state_idx` ON `allocations` (`state`,`resource_id`);--> statement-breakpoint
CREATE INDEX `allocations_workload_idx` ON `allocations` (`workload_id`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`principal` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer,
	`response` text,
	`created_at` text NOT NULL,
	PRIMARY KEY(`principal`, `key`)
);
