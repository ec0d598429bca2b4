CREATE TABLE `applications` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`git_url` text DEFAULT '' NOT NULL,
	`branch` text DEFAULT 'main' NOT NULL,
	`commit_hash` text,
	`git_token_sealed` text,
	`type` text NOT NULL,
	`image` text,
	`command` text,
	`env` text NOT NULL,
	`cpu` real NOT NULL,
	`memory` real NOT NULL,
	`gpu` integer DEFAULT 0 NOT NULL,
	`storage` real,
	`ports` text NOT NULL,
	`health_check` text,
	`status` text NOT NULL,
	`status_reason` text,
	`instances` integer DEFAULT 1 NOT NULL,
	`running_on` text NOT NULL,
	`last_deployed` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `applications_name_unique` ON `applications` (`name`);