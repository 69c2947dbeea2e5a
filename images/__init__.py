"""Images of a request: a batch's renditions (thumbnails, previews, full size) served while
it waits, and the mask painter's drawing of strokes (ahead, from drafts, and at Send)."""
