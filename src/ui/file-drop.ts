import { LitElement, css, html } from 'lit';

/**
 * A button that opens the file picker and a drop zone around its slot. Emits
 * `file-chosen` with the File; the file name is shown as text only.
 * @fires file-chosen
 */
export class FileDrop extends LitElement {
  static override properties = { accept: {}, label: {}, dragging: { state: true }, chosen: { state: true } };
  declare accept: string;
  declare label: string;
  declare dragging: boolean;
  declare chosen: string;

  constructor() {
    super();
    this.accept = '';
    this.label = 'Open file…';
    this.dragging = false;
    this.chosen = '';
  }

  static override styles = css`
    :host { display: inline-flex; align-items: center; gap: 0.5rem; border: 1px dashed transparent; border-radius: 6px; padding: 2px; }
    :host([data-dragging]) { border-color: #4cc2ff; background: rgb(76 194 255 / 0.1); }
    button { font: inherit; padding: 0.4rem 0.8rem; min-height: 2.4rem; }
    .name { font-size: 12px; color: #9fb3c8; max-width: 14rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    input { display: none; }
  `;

  override render() {
    this.toggleAttribute('data-dragging', this.dragging);
    return html`
      <button @click=${() => this.renderRoot.querySelector('input')!.click()}>${this.label}</button>
      <input type="file" accept=${this.accept} @change=${this.onInput} />
      <span class="name" title=${this.chosen}>${this.chosen}</span>
    `;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.addEventListener('dragover', this.onDragOver);
    this.addEventListener('dragleave', this.onDragLeave);
    this.addEventListener('drop', this.onDrop);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.removeEventListener('dragover', this.onDragOver);
    this.removeEventListener('dragleave', this.onDragLeave);
    this.removeEventListener('drop', this.onDrop);
  }

  private readonly onDragOver = (e: DragEvent) => {
    e.preventDefault();
    this.dragging = true;
  };
  private readonly onDragLeave = () => (this.dragging = false);
  private readonly onDrop = (e: DragEvent) => {
    e.preventDefault();
    e.stopPropagation();
    this.dragging = false;
    const file = e.dataTransfer?.files[0];
    if (file) this.choose(file);
  };

  private onInput(e: Event) {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) this.choose(file);
    input.value = '';
  }

  private choose(file: File) {
    this.chosen = file.name;
    this.dispatchEvent(new CustomEvent<File>('file-chosen', { detail: file, bubbles: true, composed: true }));
  }
}

customElements.define('file-drop', FileDrop);
declare global {
  interface HTMLElementTagNameMap { 'file-drop': FileDrop }
}
