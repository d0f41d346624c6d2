// Tables owned by detect/ (add them here, with their migration in store/migrations/).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DetectTables {}
