CREATE TABLE `__health` (
	`id` integer PRIMARY KEY NOT NULL,
	`checked_at` integer NOT NULL
);
