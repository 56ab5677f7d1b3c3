import type { PageSize } from "../../../platform/paging.ts";

/** Timeline and explore pages. */
export const PAGE: PageSize = { max: 50, dflt: 20 };
