CREATE TABLE `resource_usage` (
	`resource_id` text PRIMARY KEY NOT NULL,
	`cpu_milli` integer NOT NULL,
	`memory` integer NOT NULL,
	`gpu` integer NOT NULL,
	`active` integer NOT NULL
);
