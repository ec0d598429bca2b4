/**
 * What a page renders from a resource it re-reads: the last loaded value (also while a re-read
 * runs), or `fallback` before the first load ends or after a failed read.
 *
 * Why not call the resource itself: every call registers with the nearest <Suspense> each time the
 * resource loads again. A re-read that starts outside a navigation (the event stream, a refresh
 * timer, the refresh button) then flips the shell's boundary to its loading placeholder, and if a
 * navigation (a router transition) starts before that re-read ends, Solid 1.x commits the new
 * route but the boundary keeps showing the old, already disposed page for good. `latest` suspends
 * for the first load only (which the navigation's transition waits for), never for a re-read.
 * Reading `error` first also keeps `latest` from throwing a failed read into the render.
 */
import type { Resource } from 'solid-js';

export function latest<T, F>(resource: Resource<T>, fallback: F): T | F {
  return resource.error ? fallback : (resource.latest ?? fallback);
}
