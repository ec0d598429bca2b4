-- Keep resource_usage equal to the sums of active allocations, whatever writes allocations
-- (reserve, commit, release, adopt, a manual fix): the triggers run inside the writer's transaction.
INSERT INTO `resource_usage` (`resource_id`, `cpu_milli`, `memory`, `gpu`, `active`)
  SELECT `resource_id`, sum(`cpu_milli`), sum(`memory`), sum(`gpu`), count(*)
  FROM `allocations` WHERE `state` IN ('reserved', 'committed') GROUP BY `resource_id`;
--> statement-breakpoint
CREATE TRIGGER `allocations_usage_insert` AFTER INSERT ON `allocations`
WHEN NEW.`state` IN ('reserved', 'committed')
BEGIN
  INSERT INTO `resource_usage` (`resource_id`, `cpu_milli`, `memory`, `gpu`, `active`)
    VALUES (NEW.`resource_id`, NEW.`cpu_milli`, NEW.`memory`, NEW.`gpu`, 1)
    ON CONFLICT (`resource_id`) DO UPDATE SET
      `cpu_milli` = `cpu_milli` + excluded.`cpu_milli`,
      `memory` = `memory` + excluded.`memory`,
      `gpu` = `gpu` + excluded.`gpu`,
      `active` = `active` + 1;
END;
--> statement-breakpoint
-- Only updates that move an allocation in or out of the active set, or change what it holds
-- (reserved → committed changes neither, so the hot commit path skips the trigger).
CREATE TRIGGER `allocations_usage_update` AFTER UPDATE OF `state`, `resource_id`, `cpu_milli`, `memory`, `gpu` ON `allocations`
WHEN (OLD.`state` IN ('reserved', 'committed')) <> (NEW.`state` IN ('reserved', 'committed'))
  OR (NEW.`state` IN ('reserved', 'committed') AND (OLD.`resource_id` <> NEW.`resource_id`
    OR OLD.`cpu_milli` <> NEW.`cpu_milli` OR OLD.`memory` <> NEW.`memory` OR OLD.`gpu` <> NEW.`gpu`))
BEGIN
  UPDATE `resource_usage` SET
      `cpu_milli` = `cpu_milli` - OLD.`cpu_milli`,
      `memory` = `memory` - OLD.`memory`,
      `gpu` = `gpu` - OLD.`gpu`,
      `active` = `active` - 1
    WHERE `resource_id` = OLD.`resource_id` AND OLD.`state` IN ('reserved', 'committed');
  INSERT INTO `resource_usage` (`resource_id`, `cpu_milli`, `memory`, `gpu`, `active`)
    SELECT NEW.`resource_id`, NEW.`cpu_milli`, NEW.`memory`, NEW.`gpu`, 1
    WHERE NEW.`state` IN ('reserved', 'committed')
    ON CONFLICT (`resource_id`) DO UPDATE SET
      `cpu_milli` = `cpu_milli` + excluded.`cpu_milli`,
      `memory` = `memory` + excluded.`memory`,
      `gpu` = `gpu` + excluded.`gpu`,
      `active` = `active` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `allocations_usage_delete` AFTER DELETE ON `allocations`
WHEN OLD.`state` IN ('reserved', 'committed')
BEGIN
  UPDATE `resource_usage` SET
      `cpu_milli` = `cpu_milli` - OLD.`cpu_milli`,
      `memory` = `memory` - OLD.`memory`,
      `gpu` = `gpu` - OLD.`gpu`,
      `active` = `active` - 1
    WHERE `resource_id` = OLD.`resource_id`;
END;
