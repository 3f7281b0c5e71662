/**
 * The rules of a session's backup encoder, with no media in them: which
 * studio identity a backup takes, and which studio the operator's choice
 * moves to when the main encoder drops and the backup takes over.
 * IngestService applies them to the Room; the unit tests to plain values.
 */

/** The identity of the first encoder of a session: its studio peer in the Room. */
export const encoderIdentity = 'encoder';
/** The identity a backup takes while the main uses `encoderIdentity` (and the reverse once a backup has taken over). */
export const encoderBackupIdentity = 'encoder-backup';

/**
 * The studio identity of a backup joining beside a main encoder: whichever
 * of the two the main does not use. A backup that took over keeps its
 * identity (its producers are on air: rejoining under another would cut the
 * program), so a returning encoder takes the one the old main left free.
 */
export function backupIdentity(mainIdentity: string): string {
  return mainIdentity === encoderIdentity ? encoderBackupIdentity : encoderIdentity;
}

/** What the Room says of its studios when the main encoder drops. */
export interface StudioChoiceState {
  /** The studio the operator put on air (Room.chooseStudio), null: the first to join. */
  chosen: string | null;
  /** The studio on air now (programStudio's answer). */
  onAir: string | null;
  /** The main encoder's identity (it is dropping). */
  departed: string;
  /** The backup's identity (it becomes the main). */
  promoted: string;
}

/**
 * The studio to choose as the backup takes over, or null to leave the
 * operator's choice as it is. The backup inherits what the main had: chosen
 * by the operator, or on air by join order — either way it is chosen, so a
 * browser studio that joined before it does not win by join order. A main
 * that was off air (the operator chose the browser studio) changes nothing.
 */
export function studioOnTakeover(state: StudioChoiceState): string | null {
  if (state.chosen === state.departed) return state.promoted;
  if (state.chosen === null && state.onAir === state.departed) return state.promoted;
  return null;
}

/**
 * Whether a main encoder whose studio has just joined is chosen in place of
 * an encoder the operator chose that has left (a backup that took over and
 * then dropped too): the operator chose the encoder, not one connection of it.
 */
export function choosesOnJoin(chosen: string | null, joined: string, present: (identity: string) => boolean): boolean {
  return chosen !== null && chosen !== joined && (chosen === encoderIdentity || chosen === encoderBackupIdentity) && !present(chosen);
}
