CREATE TABLE `fixture_items` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`counter` text NOT NULL,
	`label` text NOT NULL,
	FOREIGN KEY (`counter`) REFERENCES `fixture_counters`(`name`) ON UPDATE no action ON DELETE no action
);
