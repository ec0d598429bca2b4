CREATE TABLE `resource_meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `resources` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`url` text NOT NULL,
	`builtin` integer DEFAULT false NOT NULL,
	`status` text NOT NULL,
	`status_reason` text,
	`capacity_cpu` real,
	`capacity_memory` integer,
	`capacity_gpu` integer,
	`capacity_storage` integer,
	`capacity_description` text,
	`limit_cpu` real,
	`limit_memory` integer,
	`limit_gpu` integer,
	`description` text,
	`tags` text NOT NULL,
	`location` text,
	`token_sealed` text,
	`tls_ca_sealed` text,
	`tls_cert_sealed` text,
	`tls_key_sealed` text,
	`tls_skip_verify` integer DEFAULT false NOT NULL,
	`ssh_user` text,
	`ssh_port` integer,
	`ssh_key_sealed` text,
	`ssh_password_sealed` text,
	`ssh_host_key` text,
	`config_version` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_updated` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `resources_name_unique` ON `resources` (`name`);