import { useEffect, useRef } from 'preact/hooks';

/** What an action asks before it runs: the question names what it acts on. */
export interface Question {
  title: string;
  /** The thing acted on, shown on its own line in monospace (a key's id, a minion's id). */
  subject: string;
  detail?: string;
  confirm: string;
  run: () => void;
}

/**
 * A modal question (a `<dialog>`: focus stays inside it, Escape cancels). Nothing happens until
 * the operator presses the button that names the action.
 */
export function ConfirmDialog({ question, onClose }: { question: Question | undefined; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (question !== undefined && !element.open) element.showModal();
    if (question === undefined && element.open) element.close();
  }, [question]);
  return (
    <dialog ref={dialog} id="confirm" aria-labelledby="confirm-title" onClose={onClose}>
      {question !== undefined && (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            const run = question.run;
            onClose();
            run();
          }}
        >
          <h2 id="confirm-title">{question.title}</h2>
          <p class="subject">
            <code>{question.subject}</code>
          </p>
          {question.detail !== undefined && <p class="muted">{question.detail}</p>}
          <div class="row">
            <button type="button" name="cancel" onClick={onClose}>
              Cancel
            </button>
            <button class="primary" type="submit" name="confirm">
              {question.confirm}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
