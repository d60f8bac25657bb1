import { describeReplicas } from './governance-replicas';

describeReplicas('redis');
