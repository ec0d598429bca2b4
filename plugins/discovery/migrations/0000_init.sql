CREATE TABLE `discovery_remote_runs` (
	`allocation_id` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`container_id` text NOT NULL,
	`resource_id` text NOT NULL,
	`image` text NOT NULL,
	`command` text,
	`cpu_milli` integer NOT NULL,
	`memory` integer NOT NULL,
	`gpu` integer NOT NULL,
	`owner` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `discovery_remote_runs_created` ON `discovery_remote_runs` (`created_at`);