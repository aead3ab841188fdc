/**
 * Checkpoint worker: parses a DM-VTON checkpoint (zip, pickle, tensor copies: tens of MB for
 * the official files) off the main thread. The studio builds the GPU modules from the result.
 */
import * as Comlink from 'comlink';
import { recordBuffers, tensorRecords, type TensorRecord } from '../../formats/tensor.ts';
import { readStudentCheckpoint, type StudentCheckpoint } from './checkpoint.ts';

/** A StudentCheckpoint with its tensors as plain records (see formats/tensor.ts). */
export type StudentCheckpointRecord = Omit<StudentCheckpoint, 'dict'> & { dict: Map<string, TensorRecord> };

export interface CheckpointWorkerApi {
  read(bytes: ArrayBuffer, name: string): StudentCheckpointRecord;
}

const api: CheckpointWorkerApi = {
  read(bytes, name) {
    if (!(bytes instanceof ArrayBuffer)) throw new TypeError('expected an ArrayBuffer holding the checkpoint');
    const { dict, ...rest } = readStudentCheckpoint(new Uint8Array(bytes), String(name));
    const records = tensorRecords(dict);
    return Comlink.transfer({ ...rest, dict: records }, recordBuffers(records));
  },
};

Comlink.expose(api);
